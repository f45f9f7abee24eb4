-- Run by the postgres image on its first start (docker-entrypoint-initdb.d), as the
-- POSTGRES_USER of deploy/compose.yaml: each service gets a database of its own, as in the
-- local stack (deploy/local/config.py SERVICE_DATABASES). The services apply their own
-- migrations when they start.
CREATE DATABASE referral;
CREATE DATABASE notifier;
CREATE DATABASE audit;
