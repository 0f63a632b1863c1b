"""What each statement of an upgrade script adds to the schema (pure logic, no database)."""

from pathlib import Path

from runbooklib.actions.database import effect, schema_changes, statements

REPO = Path(__file__).resolve().parents[2]


def test_each_statement_of_the_seed_scripts_has_an_effect_the_schema_can_show():
    for name in ("SAK-869.sql", "SAK-878.sql"):
        found = [effect(s) for s in statements((REPO / "sql" / name).read_text())]
        assert found and None not in found, (name, found)


def test_statements_drop_comments_and_empty_pieces():
    sql = "-- a comment; with a semicolon\nALTER TABLE T ADD C INT;\n/* x; */ ;\n"
    assert statements(sql) == ["ALTER TABLE T ADD C INT"]


def test_effects_name_the_column_index_or_table_added():
    assert effect("alter table MFR_MESSAGE_T add DELETED bit") == (
        "column",
        "MFR_MESSAGE_T",
        "DELETED",
    )
    assert effect("create unique index I on T (A)") == ("index", "T", "I")
    assert effect("CREATE TABLE IF NOT EXISTS `X` (A INT)") == ("table", "X", "")


def test_a_statement_the_schema_cannot_show_has_no_effect():
    assert effect("UPDATE SAKAI_SITE SET TYPE = 'course'") is None
    assert effect("ALTER TABLE T ADD CONSTRAINT FK1 FOREIGN KEY (A) REFERENCES U (B)") is None
    assert schema_changes("UPDATE T SET A = 1; ALTER TABLE T ADD B INT;") == [("column", "T", "B")]
