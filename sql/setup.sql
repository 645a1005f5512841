CREATE EXTENSION pg_eventlog;
