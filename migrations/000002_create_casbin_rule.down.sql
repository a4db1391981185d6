DROP TABLE IF EXISTS casbin_rule;
