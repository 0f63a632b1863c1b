"""The Sakai-like web app of the lab: the source tree of one svn tag.

    >>> write_release("sakai_2-4-x-prod-003", "2.4.1", Path("/tmp/prod-003"))
    $ cd /tmp/prod-003 && ant clean build deploy -Dtomcat.home=/ucd/opt/sakai/tomcat

The Java, build.xml and web.xml under source/ are the same in every tag. What differs is written
here: build.properties (tag, version) and mappings.txt, the schema the release's code expects.
2.4.1 expects the SAK-869 and SAK-878 changes (sql/SAK-869.sql, sql/SAK-878.sql); see README.md
beside this file for the app's behaviour, its log lines and the startup-error fault hook.
"""

import re
import shutil
from pathlib import Path

from lab.db import MESSAGE_TOPIC_FK

SOURCE = Path(__file__).parent / "source"
TAG = re.compile(r"sakai_2-4-x-prod-\d{3}")

# What every 2.4 release reads (each query's first word is the logger of the service running it).
MAPPINGS_2_4_0 = f"""\
# The schema that Sakai {{version}} ({{tag}}) expects. auto.ddl=true adds what is missing.
foreignKey MFR_MESSAGE_T {MESSAGE_TOPIC_FK} (surrogateKey) references MFR_TOPIC_T (ID)
query org.sakaiproject.site.impl.DbSiteService \
select count(*) from SAKAI_SITE where IS_SPECIAL = '1'
query org.sakaiproject.user.impl.DbUserService select count(*) from SAKAI_USER_ID_MAP
query org.sakaiproject.authz.impl.DbAuthzGroupService select count(*) from SAKAI_REALM_RL_GR
query org.sakaiproject.content.impl.DbContentService select count(*) from CONTENT_RESOURCE
query org.sakaiproject.cluster.impl.SakaiClusterService select count(*) from SAKAI_CLUSTER
"""

# 2.4.1 adds what sql/SAK-869.sql and sql/SAK-878.sql create, and code that uses it.
MAPPINGS_2_4_1 = (
    MAPPINGS_2_4_0
    + """\
# SAK-869: Forums messages can be deleted (flag column and its index).
column MFR_MESSAGE_T DELETED bit not null default false
index MFR_MESSAGE_T MFR_MESSAGE_DELETED_I (DELETED)
query org.sakaiproject.component.app.messageforums.MessageForumsMessageManagerImpl \
select count(*) from MFR_MESSAGE_T where DELETED = false
# SAK-878: Samigo reads a student's submissions through this index.
index SAM_ASSESSMENTGRADING_T SAM_ASSGRAD_AID_PUBASSEID_T (AGENTID,PUBLISHEDASSESSMENTID)
query org.sakaiproject.tool.assessment.facade.AssessmentGradingFacadeQueries \
select count(*) from SAM_ASSESSMENTGRADING_T force index (SAM_ASSGRAD_AID_PUBASSEID_T) \
where AGENTID = 'admin'
"""
)

MAPPINGS = {"2.4.0": MAPPINGS_2_4_0, "2.4.1": MAPPINGS_2_4_1}


def write_release(tag: str, version: str, dest: Path) -> None:
    """Write the complete source tree of release `version`, svn tag `tag`, into `dest`."""
    if not TAG.fullmatch(tag):
        raise ValueError(f"tag {tag!r} is not a SmartSite tag; use e.g. sakai_2-4-x-prod-003")
    if version not in MAPPINGS:
        raise ValueError(f"unknown Sakai version {version!r}; use one of {', '.join(MAPPINGS)}")
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise ValueError(f"{dest} is not empty; pass a new or empty folder")
    shutil.copytree(SOURCE, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("target"))
    (dest / "build.properties").write_text(
        f"# SmartSite release of svn tag {tag}\nrelease.tag={tag}\nrelease.version={version}\n"
    )
    mappings = dest / "src/config/sakailab/mappings.txt"
    mappings.parent.mkdir(parents=True, exist_ok=True)
    mappings.write_text(MAPPINGS[version].format(version=version, tag=tag))
