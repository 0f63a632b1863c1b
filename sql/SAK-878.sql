-- SAK-878: SmartSite 2.4.0 -> 2.4.1 (tag sakai_2-4-x-prod-003), Samigo performance index.
-- UC Davis local ticket; the change is the Sakai 2.4.x maintenance branch's SAK-10454
-- (sakai_2_4_0-2_4_x_mysql_conversion_002.sql), carried into our 2.4.1 build.
-- MySQL/MariaDB. Run after SAK-869.sql, before the first 2.4.1 app server starts.
-- Not re-runnable: a second run fails with "Duplicate key name 'SAM_ASSGRAD_AID_PUBASSEID_T'"
-- and changes nothing (the runbook records applied scripts and skips them).
create index SAM_ASSGRAD_AID_PUBASSEID_T on SAM_ASSESSMENTGRADING_T (AGENTID,PUBLISHEDASSESSMENTID);
