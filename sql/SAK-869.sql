-- SAK-869: SmartSite 2.4.0 -> 2.4.1 (tag sakai_2-4-x-prod-003), Forums: delete threaded messages.
-- UC Davis local ticket; the change is the Sakai 2.4.x maintenance branch's SAK-9808
-- (sakai_2_4_0-2_4_x_mysql_conversion_001.sql), carried into our 2.4.1 build.
-- MySQL/MariaDB. Run before the first 2.4.1 app server starts; auto.ddl need not be on.
-- Not re-runnable: a second run fails at the ALTER with "Duplicate column name 'DELETED'"
-- and changes nothing (the runbook records applied scripts and skips them).
alter table MFR_MESSAGE_T add DELETED bit not null default false;
create index MFR_MESSAGE_DELETED_I on MFR_MESSAGE_T (DELETED);
