-- One-time Snowflake setup for the MLOps pipeline (upload stage, dbt transform, training reads).
--
-- Run it once as ACCOUNTADMIN, or as a user holding both SECURITYADMIN and SYSADMIN, e.g. in a
-- Snowsight worksheet ("Run all") or with the Snowflake CLI:
--   snow sql -f infra/snowflake/setup.sql
-- It is idempotent (IF NOT EXISTS, GRANT): running it again changes nothing.
--
-- What it creates, with the names below (change them here, before running):
--   warehouse MLOPS_WH          XSMALL, suspends after 60 s idle, starts suspended
--   database  MLOPS
--   schema    MLOPS.SESSION_RECS  the raw tables the upload stage loads AND the models dbt builds:
--                                 dbt/models/sources.yml reads the raw tables from target.schema,
--                                 so both live in the one schema SNOWFLAKE_SCHEMA names
--   role      MLOPS_PIPELINE    USAGE on the warehouse, database and schema; CREATE TABLE and
--                               CREATE VIEW in the schema (it then owns the tables it creates,
--                               which the upload's PUT into table stages needs); nothing else
--   user      MLOPS_PIPELINE_SVC  TYPE = SERVICE (no password, no MFA prompts, no UI login)
--
-- Then set these GitHub repository variables (Settings -> Secrets and variables -> Actions):
--   MLOPS_WAREHOUSE=snowflake
--   SNOWFLAKE_ACCOUNT=<orgname>-<account name>   (SELECT CURRENT_ORGANIZATION_NAME() || '-' || CURRENT_ACCOUNT_NAME();)
--   SNOWFLAKE_USER=MLOPS_PIPELINE_SVC  SNOWFLAKE_ROLE=MLOPS_PIPELINE
--   SNOWFLAKE_WAREHOUSE=MLOPS_WH  SNOWFLAKE_DATABASE=MLOPS  SNOWFLAKE_SCHEMA=SESSION_RECS
-- and pick one way to authenticate at the end of this file.
--
-- No secret is in this file, and none should be added to it: public keys and OIDC subjects are
-- not secrets, private keys are.

SET mlops_warehouse = 'MLOPS_WH';
SET mlops_database = 'MLOPS';
SET mlops_schema = 'SESSION_RECS';
SET mlops_role = 'MLOPS_PIPELINE';
SET mlops_user = 'MLOPS_PIPELINE_SVC';

SET mlops_schema_fqn = $mlops_database || '.' || $mlops_schema;

-- 1. Warehouse, database and schema, owned by SYSADMIN ----------------------------------------
USE ROLE SYSADMIN;

CREATE WAREHOUSE IF NOT EXISTS IDENTIFIER($mlops_warehouse)
  WAREHOUSE_SIZE = XSMALL
  AUTO_SUSPEND = 60
  AUTO_RESUME = TRUE
  INITIALLY_SUSPENDED = TRUE
  -- A runaway query stops after an hour instead of billing all night.
  STATEMENT_TIMEOUT_IN_SECONDS = 3600
  COMMENT = 'MLOps pipeline: upload, dbt build, training reads';

CREATE DATABASE IF NOT EXISTS IDENTIFIER($mlops_database)
  COMMENT = 'MLOps session recommender';

CREATE SCHEMA IF NOT EXISTS IDENTIFIER($mlops_schema_fqn)
  COMMENT = 'Raw Coveo-format tables (upload stage) and the dbt models built from them';

-- 2. The pipeline's role ----------------------------------------------------------------------
USE ROLE SECURITYADMIN;

CREATE ROLE IF NOT EXISTS IDENTIFIER($mlops_role)
  COMMENT = 'MLOps pipeline: loads raw tables, builds dbt models, reads training splits';
-- Role hierarchy: SYSADMIN (and so ACCOUNTADMIN) can see and manage what the pipeline creates.
GRANT ROLE IDENTIFIER($mlops_role) TO ROLE SYSADMIN;

-- 3. Least privilege: use the warehouse, reach the schema, create tables and views in it -----
USE ROLE SYSADMIN;

-- USAGE lets the role run queries and resume the (auto-resuming) warehouse; it cannot resize it.
GRANT USAGE ON WAREHOUSE IDENTIFIER($mlops_warehouse) TO ROLE IDENTIFIER($mlops_role);
GRANT USAGE ON DATABASE IDENTIFIER($mlops_database) TO ROLE IDENTIFIER($mlops_role);
GRANT USAGE ON SCHEMA IDENTIFIER($mlops_schema_fqn) TO ROLE IDENTIFIER($mlops_role);
-- The upload stage: CREATE TABLE IF NOT EXISTS for the raw, rejects and loads tables, PUT into
-- their table stages, COPY INTO. dbt: tables (staging, intermediate, marts) and views.
GRANT CREATE TABLE ON SCHEMA IDENTIFIER($mlops_schema_fqn) TO ROLE IDENTIFIER($mlops_role);
GRANT CREATE VIEW ON SCHEMA IDENTIFIER($mlops_schema_fqn) TO ROLE IDENTIFIER($mlops_role);

-- 4. The service user -------------------------------------------------------------------------
USE ROLE SECURITYADMIN;

CREATE USER IF NOT EXISTS IDENTIFIER($mlops_user)
  TYPE = SERVICE
  DEFAULT_ROLE = $mlops_role
  DEFAULT_WAREHOUSE = $mlops_warehouse
  DEFAULT_NAMESPACE = $mlops_schema_fqn
  COMMENT = 'MLOps pipeline (GitHub Actions, AWS Batch training job)';
GRANT ROLE IDENTIFIER($mlops_role) TO USER IDENTIFIER($mlops_user);

-- 5. Authentication: pick ONE, uncomment it, fill in the placeholders, run it ----------------
--
-- (a) Key pair (JWT). Make the key on your machine, never in this file:
--       openssl genrsa 2048 | openssl pkcs8 -topk8 -v2 aes-256-cbc -inform PEM -out mlops_key.p8
--       openssl rsa -in mlops_key.p8 -pubout -out mlops_key.pub
--     Paste the body of mlops_key.pub (the base64 lines, without the BEGIN/END lines) below.
--     In GitHub: secret SNOWFLAKE_PRIVATE_KEY = the whole mlops_key.p8 file, secret
--     SNOWFLAKE_PRIVATE_KEY_PASSPHRASE = its passphrase, variable SNOWFLAKE_AUTHENTICATOR=keypair.
--     For training on AWS Batch, store the same PEM in Secrets Manager under mlops/ and set
--     MLOPS_BATCH_SECRETS=SNOWFLAKE_PRIVATE_KEY=<secret ARN> (+ the passphrase the same way).
--     Check with: DESC USER MLOPS_PIPELINE_SVC;  (RSA_PUBLIC_KEY_FP is set)
--
-- ALTER USER IDENTIFIER($mlops_user) SET RSA_PUBLIC_KEY = '<public key body from mlops_key.pub>';
--
-- (b) Workload identity federation with GitHub Actions' OIDC token: nothing secret anywhere.
--     Each job's token carries a `sub` claim that Snowflake compares EXACTLY (no wildcards):
--       pull requests:               repo:<owner>/<name>:pull_request
--       pushes / manual runs on main: repo:<owner>/<name>:ref:refs/heads/main
--       jobs in an environment:      repo:<owner>/<name>:environment:production
--     The pipeline asks GitHub for a token with the audience snowflakecomputing.com
--     (SNOWFLAKE_OIDC_AUDIENCE), which is what Snowflake expects when no OIDC_AUDIENCE_LIST is
--     given. In GitHub: variable SNOWFLAKE_AUTHENTICATOR=oidc (SNOWFLAKE_USER may stay unset:
--     the identity names the user). The first subject is the user's WORKLOAD_IDENTITY property;
--     more are added as named workload identities.
--
-- ALTER USER IDENTIFIER($mlops_user) SET WORKLOAD_IDENTITY = (
--   TYPE = OIDC
--   ISSUER = 'https://token.actions.githubusercontent.com'
--   SUBJECT = 'repo:<owner>/<name>:pull_request'
-- );
-- ALTER USER IDENTIFIER($mlops_user) ADD WORKLOAD IDENTITY github_main
--   TYPE = OIDC
--   ISSUER = 'https://token.actions.githubusercontent.com'
--   SUBJECT = 'repo:<owner>/<name>:ref:refs/heads/main';
--
--     A training job on AWS Batch has no GitHub token; it can prove its AWS identity instead
--     (SNOWFLAKE_WORKLOAD_IDENTITY_PROVIDER=AWS), with the job role from the CDK stack's
--     MLOPS_BATCH_JOB_ROLE_ARN output:
--
-- ALTER USER IDENTIFIER($mlops_user) ADD WORKLOAD IDENTITY batch_training
--   TYPE = AWS
--   ARN = '<MLOPS_BATCH_JOB_ROLE_ARN>';
--
--     Check with: SHOW USER WORKLOAD IDENTITY AUTHENTICATION METHODS FOR USER MLOPS_PIPELINE_SVC;

-- Optional: cap the warehouse's monthly credits (needs ACCOUNTADMIN).
-- USE ROLE ACCOUNTADMIN;
-- CREATE RESOURCE MONITOR IF NOT EXISTS mlops_monthly WITH CREDIT_QUOTA = 20
--   FREQUENCY = MONTHLY START_TIMESTAMP = IMMEDIATELY
--   TRIGGERS ON 80 PERCENT DO NOTIFY ON 100 PERCENT DO SUSPEND;
-- ALTER WAREHOUSE IDENTIFIER($mlops_warehouse) SET RESOURCE_MONITOR = mlops_monthly;
