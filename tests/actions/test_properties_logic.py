"""sakai.properties editing, diffs and password masking; SQL schema changes; health parsing."""

from runbooklib.actions import config, database, http

TEXT = "# comment\nauto.ddl=false\nlong = a \\\n   b\npassword@javax.sql.BaseDataSource=s3cret\nx=2"


def test_set_keeps_every_other_line_byte_for_byte():
    out = config.edit_properties(TEXT, {"auto.ddl": "true"})
    assert out == TEXT.replace("auto.ddl=false", "auto.ddl=true") + ""
    assert config.edit_properties(out, {"auto.ddl": "false"}) == TEXT


def test_remove_and_append():
    out = config.edit_properties(TEXT, {"long": None, "new.key": "v"})
    assert "long" not in out and "   b" not in out
    assert out.endswith("x=2\nnew.key=v\n")


def test_the_awk_program_does_what_the_python_edit_does(tmp_path):
    import subprocess

    path = tmp_path / "sakai.properties"
    path.write_text(TEXT + "\n")
    changes = {"auto.ddl": "true", "long": None, "new.key": "v w"}
    program = config._awk(*config.line_edits(TEXT + "\n", changes))
    out = subprocess.run(["awk", program, str(path)], capture_output=True, text=True, check=True)
    assert out.stdout == config.edit_properties(TEXT + "\n", changes)


def test_diff_masks_passwords():
    before = TEXT
    after = config.edit_properties(
        TEXT, {"password@javax.sql.BaseDataSource": None, "auto.ddl": "true"}
    )
    diff = config.diff(before, after, "sakai.properties")
    assert "s3cret" not in diff
    assert "-password@javax.sql.BaseDataSource=********" in diff
    assert "+auto.ddl=true" in diff


def test_masking_leaves_other_keys_and_masks_commented_out_passwords():
    # A commented-out `password=old` is an old password: masked too; the separator is kept.
    masked = config.mask("# password=old one\nuser=sakai\nDB.Password = x\n")
    assert masked == "# password=******** one\nuser=sakai\nDB.Password = ********\n"


def test_schema_changes_of_a_conversion_script():
    sql = """-- SAK-869
    ALTER TABLE SAKAI_SITE ADD COLUMN CUSTOM_PAGE_ORDERED CHAR(1) DEFAULT '0';
    /* an index */ CREATE INDEX IE_SAKAI_SITE_FLAGS ON SAKAI_SITE (SITE_ID, IS_SPECIAL);
    ALTER TABLE X ADD CONSTRAINT FK1 FOREIGN KEY (A) REFERENCES B (A);
    create table if not exists NEWT (id int);
    """
    assert database.schema_changes(sql) == [
        ("column", "SAKAI_SITE", "CUSTOM_PAGE_ORDERED"),
        ("index", "SAKAI_SITE", "IE_SAKAI_SITE_FLAGS"),
        ("table", "NEWT", ""),
    ]


def test_health_page_text_and_json():
    text = "status=error\nversion=2.4.1\nserverId=stubing\ndb=error: schema: Unknown column\n"
    assert http.parse_health(text)["db"] == "error: schema: Unknown column"
    assert http.parse_health('{"version": "2.4.0", "db": "ok"}') == {"version": "2.4.0", "db": "ok"}
