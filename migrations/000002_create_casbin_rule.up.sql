-- Authorization rules (roles, per-library grants) in the standard Casbin adapter shape; the seed policy
-- lives in policies/rbac_policy.csv and is not copied here. See infra/authz/casbin_engine.py.

CREATE TABLE casbin_rule (
    id bigserial PRIMARY KEY,
    ptype text NOT NULL,
    v0 text,
    v1 text,
    v2 text,
    v3 text,
    v4 text,
    v5 text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX casbin_rule_unique ON casbin_rule (
    ptype,
    coalesce(v0, ''),
    coalesce(v1, ''),
    coalesce(v2, ''),
    coalesce(v3, ''),
    coalesce(v4, ''),
    coalesce(v5, '')
);

CREATE TRIGGER casbin_rule_touch_updated_at BEFORE UPDATE ON casbin_rule
    FOR EACH ROW EXECUTE FUNCTION revenge_touch_updated_at();
