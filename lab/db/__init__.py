"""The Sakai 2.4.0 database of the lab: schema and seeded data, as one SQL file.

    >>> write_seed_sql(Path("/tmp/sakai-seed.sql"), rows=20000)
    $ mariadb sakai < /tmp/sakai-seed.sql

The tables follow Sakai 2.4's MySQL DDL (a subset of columns), plus the two tables that the 2.4.1
upgrade scripts sql/SAK-869.sql (MFR_MESSAGE_T) and sql/SAK-878.sql (SAM_ASSESSMENTGRADING_T)
change. The file drops and recreates every table, so loading it again returns the database to 2.4.0.
The data is generated from a fixed seed: the same `rows` always gives the same bytes.
"""

import base64
import hashlib
import random
from datetime import datetime, timedelta
from pathlib import Path

# Hibernate named foreign keys "FK" + a hash of table and columns; this one is shaped like them.
# The 2.4 apps' hbm2ddl re-issues it at every auto.ddl start (see lab/app/source/.../Schema.java).
MESSAGE_TOPIC_FK = "FK80C1A316A991E1DB"

SCHEMA = f"""\
CREATE TABLE SAKAI_USER (
  USER_ID VARCHAR(99) NOT NULL,
  EMAIL VARCHAR(255),
  EMAIL_LC VARCHAR(255),
  FIRST_NAME VARCHAR(255),
  LAST_NAME VARCHAR(255),
  TYPE VARCHAR(255),
  PW VARCHAR(255),
  CREATEDBY VARCHAR(99) NOT NULL,
  MODIFIEDBY VARCHAR(99) NOT NULL,
  CREATEDON DATETIME NOT NULL,
  MODIFIEDON DATETIME NOT NULL,
  PRIMARY KEY (USER_ID)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;
CREATE INDEX IE_SAKAI_USER_CREATED ON SAKAI_USER (CREATEDBY, CREATEDON);
CREATE INDEX IE_SAKAI_USER_EMAIL ON SAKAI_USER (EMAIL_LC);

CREATE TABLE SAKAI_USER_ID_MAP (
  USER_ID VARCHAR(99) NOT NULL,
  EID VARCHAR(255) NOT NULL,
  PRIMARY KEY (USER_ID)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;
CREATE UNIQUE INDEX AK_SAKAI_USER_ID_MAP_EID ON SAKAI_USER_ID_MAP (EID);

CREATE TABLE SAKAI_SITE (
  SITE_ID VARCHAR(99) NOT NULL,
  TITLE VARCHAR(99),
  TYPE VARCHAR(99),
  SHORT_DESC LONGTEXT,
  DESCRIPTION LONGTEXT,
  SKIN VARCHAR(255),
  PUBLISHED INTEGER,
  JOINABLE CHAR(1),
  PUBVIEW CHAR(1),
  JOIN_ROLE VARCHAR(99),
  CREATEDBY VARCHAR(99),
  MODIFIEDBY VARCHAR(99),
  CREATEDON DATETIME,
  MODIFIEDON DATETIME,
  IS_SPECIAL CHAR(1),
  IS_USER CHAR(1),
  CUSTOM_PAGE_ORDERED CHAR(1) DEFAULT '0',
  PRIMARY KEY (SITE_ID)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;
CREATE INDEX IE_SAKAI_SITE_FLAGS ON SAKAI_SITE (SITE_ID, IS_SPECIAL, IS_USER);

CREATE TABLE SAKAI_REALM (
  REALM_KEY INTEGER NOT NULL AUTO_INCREMENT,
  REALM_ID VARCHAR(255) NOT NULL,
  PROVIDER_ID VARCHAR(1024),
  MAINTAIN_ROLE INTEGER,
  CREATEDBY VARCHAR(99),
  MODIFIEDBY VARCHAR(99),
  CREATEDON DATETIME,
  MODIFIEDON DATETIME,
  PRIMARY KEY (REALM_KEY)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;
CREATE UNIQUE INDEX AK_SAKAI_REALM_ID ON SAKAI_REALM (REALM_ID);

CREATE TABLE SAKAI_REALM_ROLE (
  ROLE_KEY INTEGER NOT NULL AUTO_INCREMENT,
  ROLE_NAME VARCHAR(99) NOT NULL,
  PRIMARY KEY (ROLE_KEY)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;
CREATE UNIQUE INDEX AK_SAKAI_REALM_ROLE_NAME ON SAKAI_REALM_ROLE (ROLE_NAME);

CREATE TABLE SAKAI_REALM_RL_GR (
  REALM_KEY INTEGER NOT NULL,
  USER_ID VARCHAR(99) NOT NULL,
  ROLE_KEY INTEGER NOT NULL,
  ACTIVE CHAR(1) CHECK (ACTIVE IN ('1', '0')),
  PROVIDED CHAR(1) CHECK (PROVIDED IN ('1', '0')),
  PRIMARY KEY (REALM_KEY, USER_ID)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;
CREATE INDEX SAKAI_REALM_RL_GR_ACT ON SAKAI_REALM_RL_GR (ACTIVE);
CREATE INDEX SAKAI_REALM_RL_GR_USR ON SAKAI_REALM_RL_GR (USER_ID);

CREATE TABLE CONTENT_RESOURCE (
  RESOURCE_ID VARCHAR(255) NOT NULL,
  RESOURCE_UUID VARCHAR(36),
  IN_COLLECTION VARCHAR(255),
  FILE_PATH VARCHAR(128),
  XML LONGTEXT,
  PRIMARY KEY (RESOURCE_ID)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;
CREATE INDEX CONTENT_RESOURCE_INDX ON CONTENT_RESOURCE (IN_COLLECTION);

CREATE TABLE SAKAI_CLUSTER (
  SERVER_ID VARCHAR(64) NOT NULL,
  UPDATE_TIME DATETIME,
  PRIMARY KEY (SERVER_ID)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

CREATE TABLE MFR_TOPIC_T (
  ID BIGINT NOT NULL AUTO_INCREMENT,
  TOPIC_DTYPE VARCHAR(2) NOT NULL,
  VERSION INTEGER NOT NULL,
  UUID VARCHAR(36) NOT NULL,
  CREATED DATETIME NOT NULL,
  CREATED_BY VARCHAR(36) NOT NULL,
  MODIFIED DATETIME NOT NULL,
  MODIFIED_BY VARCHAR(36) NOT NULL,
  TITLE VARCHAR(255) NOT NULL,
  SHORT_DESCRIPTION VARCHAR(255),
  PRIMARY KEY (ID)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

CREATE TABLE MFR_MESSAGE_T (
  ID BIGINT NOT NULL AUTO_INCREMENT,
  MESSAGE_DTYPE VARCHAR(2) NOT NULL,
  VERSION INTEGER NOT NULL,
  UUID VARCHAR(36) NOT NULL,
  CREATED DATETIME NOT NULL,
  CREATED_BY VARCHAR(36) NOT NULL,
  MODIFIED DATETIME NOT NULL,
  MODIFIED_BY VARCHAR(36) NOT NULL,
  TITLE VARCHAR(255) NOT NULL,
  BODY TEXT,
  AUTHOR VARCHAR(255) NOT NULL,
  APPROVED BIT NOT NULL,
  DRAFT BIT NOT NULL,
  IN_REPLY_TO BIGINT,
  surrogateKey BIGINT,
  PRIMARY KEY (ID),
  INDEX {MESSAGE_TOPIC_FK} (surrogateKey),
  CONSTRAINT {MESSAGE_TOPIC_FK} FOREIGN KEY (surrogateKey) REFERENCES MFR_TOPIC_T (ID)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

CREATE TABLE SAM_ASSESSMENTGRADING_T (
  ASSESSMENTGRADINGID BIGINT NOT NULL AUTO_INCREMENT,
  PUBLISHEDASSESSMENTID BIGINT NOT NULL,
  AGENTID VARCHAR(255) NOT NULL,
  SUBMITTEDDATE DATETIME,
  ISLATE VARCHAR(1) NOT NULL,
  FORGRADE TINYINT NOT NULL,
  TOTALAUTOSCORE FLOAT,
  FINALSCORE FLOAT,
  COMMENTS TEXT,
  STATUS INTEGER NOT NULL,
  ATTEMPTDATE DATETIME,
  TIMEELAPSED INTEGER,
  PRIMARY KEY (ASSESSMENTGRADINGID)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;
"""

# Drop order: the child of the one foreign key first.
TABLES = [
    "MFR_MESSAGE_T",
    "MFR_TOPIC_T",
    "SAM_ASSESSMENTGRADING_T",
    "SAKAI_CLUSTER",
    "CONTENT_RESOURCE",
    "SAKAI_REALM_RL_GR",
    "SAKAI_REALM_ROLE",
    "SAKAI_REALM",
    "SAKAI_SITE",
    "SAKAI_USER_ID_MAP",
    "SAKAI_USER",
]

# Share of `rows` per generated table (users and their id map count twice: one row each).
SHARES = {"users": 0.20, "sites": 0.04, "members": 0.20, "content": 0.15, "topics": 0.01}
SHARES |= {"messages": 0.10, "gradings": 0.06}
ROLES = ["access", "maintain", "Student", "Instructor"]
BATCH = 500  # rows per INSERT: small enough for max_allowed_packet, large enough to load fast
EPOCH = datetime(2005, 9, 1, 8, 0, 0)
NAMES = ["Ana", "Bo", "Chen", "Dara", "Eli", "Fátima", "Goran", "Hana", "Iker", "José", "Kai"]
SURNAMES = ["Alvarez", "Brown", "Chu", "Dietrich", "Eze", "Fischer", "García", "Müller", "Nguyen"]
SUBJECTS = ["ANT", "BIS", "CHE", "ECS", "ENL", "FRE", "MAT", "PHY", "SPA", "STA"]


def write_seed_sql(path: Path, rows: int = 20000) -> None:
    """Write the 2.4.0 schema and about `rows` rows of data (deterministic) to `path`."""
    if not isinstance(rows, int) or rows < 100:
        raise ValueError(f"rows must be an integer of at least 100 (got {rows!r}); pass rows=20000")
    rng = random.Random(869878)
    out = ["-- Sakai 2.4.0 schema and data for the SmartSite rehearsal lab (lab/db).", ""]
    out += ["SET NAMES utf8;", "SET foreign_key_checks = 0;"]
    out += [f"DROP TABLE IF EXISTS {table};" for table in TABLES]
    out += ["SET foreign_key_checks = 1;", "", SCHEMA]
    for table, columns, values in _data(rng, rows):
        for start in range(0, len(values), BATCH):
            chunk = ",\n".join(_row(v) for v in values[start : start + BATCH])
            out.append(f"INSERT INTO {table} ({', '.join(columns)}) VALUES\n{chunk};")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def _data(rng: random.Random, rows: int):
    """Yield (table, columns, list of row tuples), parents before children."""
    count = {name: max(2, int(rows * share)) for name, share in SHARES.items()}

    def when(days: int = 700) -> str:
        return (EPOCH + timedelta(seconds=rng.randrange(days * 86400))).strftime(
            "%Y-%m-%d %H:%M:%S"
        )

    # Users: admin and postmaster as in every Sakai, then generated people.
    users = [("admin", "admin", "Sakai", "Administrator", _pw("admin"))]
    users.append(("postmaster", "postmaster", "Sakai", "Postmaster", None))
    for i in range(count["users"] - len(users)):
        first, last = rng.choice(NAMES), rng.choice(SURNAMES)
        eid = f"{first[0].lower()}{_ascii(last).lower()}{i}"
        users.append((_uuid(rng), eid, first, last, _pw(f"{eid}-{rng.random()}")))
    user_rows = []
    for user_id, eid, first, last, pw in users:
        email = f"{eid}@ucdavis.edu"
        kind = "registered" if user_id not in ("admin", "postmaster") else ""
        user_rows.append(
            (user_id, email, email, first, last, kind, pw, "admin", "admin", when(), when())
        )
    user_columns = ["USER_ID", "EMAIL", "EMAIL_LC", "FIRST_NAME", "LAST_NAME", "TYPE", "PW"]
    user_columns += ["CREATEDBY", "MODIFIEDBY", "CREATEDON", "MODIFIEDON"]
    yield "SAKAI_USER", user_columns, user_rows
    yield "SAKAI_USER_ID_MAP", ["USER_ID", "EID"], [(u[0], u[1]) for u in users]

    # Sites: the special ones first, then course sites; one realm per site.
    sites = [("!admin", "Administration Workspace", None, "1", "0")]
    sites += [("!gateway", "Gateway", None, "1", "0"), ("~admin", "My Workspace", None, "0", "1")]
    for i in range(count["sites"] - len(sites)):
        title = f"{rng.choice(SUBJECTS)} {rng.randrange(1, 199):03d} F07 ({i})"
        sites.append((_uuid(rng), title, "course", "0", "0"))
    site_rows = [
        (sid, title, kind, f"{title}: SmartSite", None, "default", 1, "0", "0", "access")
        + ("admin", "admin", when(), when(), special, user, "0")
        for sid, title, kind, special, user in sites
    ]
    site_columns = ["SITE_ID", "TITLE", "TYPE", "SHORT_DESC", "DESCRIPTION", "SKIN", "PUBLISHED"]
    site_columns += ["JOINABLE", "PUBVIEW", "JOIN_ROLE", "CREATEDBY", "MODIFIEDBY", "CREATEDON"]
    site_columns += ["MODIFIEDON", "IS_SPECIAL", "IS_USER", "CUSTOM_PAGE_ORDERED"]
    yield "SAKAI_SITE", site_columns, site_rows
    yield "SAKAI_REALM_ROLE", ["ROLE_KEY", "ROLE_NAME"], list(enumerate(ROLES, start=1))
    realm_rows = [
        (key, f"/site/{site[0]}", None, 2, "admin", "admin", when(), when())
        for key, site in enumerate(sites, start=1)
    ]
    realm_columns = ["REALM_KEY", "REALM_ID", "PROVIDER_ID", "MAINTAIN_ROLE", "CREATEDBY"]
    realm_columns += ["MODIFIEDBY", "CREATEDON", "MODIFIEDON"]
    yield "SAKAI_REALM", realm_columns, realm_rows

    # Memberships: distinct (realm, user) pairs.
    pairs: set[tuple[int, str]] = set()
    target = min(count["members"], len(sites) * len(users))
    while len(pairs) < target:
        pairs.add((rng.randrange(1, len(sites) + 1), rng.choice(users)[0]))
    member_rows = [(k, u, rng.choice([1, 3, 3, 3, 4]), "1", "0") for k, u in sorted(pairs)]
    yield (
        "SAKAI_REALM_RL_GR",
        ["REALM_KEY", "USER_ID", "ROLE_KEY", "ACTIVE", "PROVIDED"],
        member_rows,
    )

    # Resources: files in the course sites' collections.
    content_rows = []
    for i in range(count["content"]):
        site = rng.choice(sites)[0]
        name = f"syllabus-{i}.pdf" if i % 3 == 0 else f"lecture-{i}.ppt"
        path = f"/2007/{rng.randrange(100, 300)}/{rng.randrange(10)}/{_uuid(rng)}"
        xml = f'<resource id="/group/{site}/{name}" resource-type="org.sakaiproject.content.types'
        xml += f'.fileUpload" content-length="{rng.randrange(1000, 900000)}"/>'
        content_rows.append((f"/group/{site}/{name}", _uuid(rng), f"/group/{site}/", path, xml))
    content_columns = ["RESOURCE_ID", "RESOURCE_UUID", "IN_COLLECTION", "FILE_PATH", "XML"]
    yield "CONTENT_RESOURCE", content_columns, content_rows

    # Forums: topics, then messages in them (messages table gets SAK-869's column in 2.4.1).
    common = ["VERSION", "UUID", "CREATED", "CREATED_BY", "MODIFIED", "MODIFIED_BY", "TITLE"]
    topic_rows = [
        (i, "DT", 0, _uuid(rng), when(), "admin", when(), "admin", f"Week {i} discussion", None)
        for i in range(1, count["topics"] + 1)
    ]
    yield "MFR_TOPIC_T", ["ID", "TOPIC_DTYPE", *common, "SHORT_DESCRIPTION"], topic_rows
    message_rows = []
    for i in range(1, count["messages"] + 1):
        author = rng.choice(users)
        reply = rng.randrange(1, i) if i > 1 and rng.random() < 0.6 else None
        message_rows.append(
            (i, "ME", 0, _uuid(rng), when(), author[0], when(), author[0], f"Re: question {i}")
            + (f"Message body {i}", f"{author[2]} {author[3]}", 1, 0, reply)
            + (rng.randrange(1, count["topics"] + 1),)
        )
    message_columns = ["ID", "MESSAGE_DTYPE", *common, "BODY", "AUTHOR", "APPROVED", "DRAFT"]
    yield "MFR_MESSAGE_T", [*message_columns, "IN_REPLY_TO", "surrogateKey"], message_rows

    # Samigo: submitted assessments (the table SAK-878 indexes in 2.4.1).
    grading_rows = []
    for i in range(1, count["gradings"] + 1):
        score = round(rng.uniform(0, 100), 1)
        grading_rows.append(
            (i, rng.randrange(1, 120), rng.choice(users)[0], when(), "0", 1, score, score)
            + (None, rng.choice([2, 3]), when(), rng.randrange(60, 5400))
        )
    grading_columns = ["ASSESSMENTGRADINGID", "PUBLISHEDASSESSMENTID", "AGENTID", "SUBMITTEDDATE"]
    grading_columns += ["ISLATE", "FORGRADE", "TOTALAUTOSCORE", "FINALSCORE", "COMMENTS"]
    grading_columns += ["STATUS", "ATTEMPTDATE", "TIMEELAPSED"]
    yield "SAM_ASSESSMENTGRADING_T", grading_columns, grading_rows


def _uuid(rng: random.Random) -> str:
    """A UUID-shaped id from the seeded generator (Sakai's ids look like this)."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _pw(clear: str) -> str:
    """Base64 of MD5, the one-way hash form of the era's PW column (the lab's admin: admin)."""
    return base64.b64encode(hashlib.md5(clear.encode()).digest()).decode()


def _ascii(text: str) -> str:
    return text.encode("ascii", "ignore").decode()


def _row(values: tuple) -> str:
    return "(" + ", ".join(_literal(v) for v in values) + ")"


def _literal(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "''") + "'"
