/* cn_roles: who may call what on Cairn's internal network — one table.
 *
 * Every internal request is signed by one ROLE (cn_auth.h): the metadata
 * replicas (meta), the chunkservers (chunk), the S3 gateways (gateway) and
 * the operator's `cairn` CLI (admin). A request names its sender role and its
 * receiver role, and each (sender, receiver) pair has a key of its own
 * derived from the cluster secret, so a daemon holds only the keys of the
 * links it takes part in (docs/security.md "Internal requests").
 *
 * The route table below says, for every protected route of every daemon,
 * which daemon serves it and which roles may call it. The HTTP server checks
 * it for every authenticated request in one place (cn_http_server.c, right
 * after the signature) and answers 403 when the sender's role is not listed;
 * a path with no entry is refused too. Two routes carry many operations in
 * their body — POST /v1/cmd (md.Command) and POST /v1/read (md.Query) — and
 * the metadata handlers check the operation against the second and third
 * tables here (cn_roles_command_allowed / cn_roles_query_allowed).
 *
 * Everything here is constant data and pure functions: thread-safe. */
#ifndef CAIRN_CN_ROLES_H
#define CAIRN_CN_ROLES_H

#include <stddef.h>
#include <stdint.h>

enum cn_role {
    CN_ROLE_NONE = 0, /* unauthenticated, or "infer it" where a role is optional */
    CN_ROLE_META = 1,
    CN_ROLE_CHUNK = 2,
    CN_ROLE_GATEWAY = 3,
    CN_ROLE_ADMIN = 4,
    /* A request signed with the pre-roles scheme (CAIRN1), accepted only
     * with --auth-compat-v1 during a rolling upgrade: allowed everything, as
     * before. Never a signer's role. */
    CN_ROLE_LEGACY = 5,
};
#define CN_ROLE_FIRST 1
#define CN_ROLE_LAST  4 /* real signer roles are CN_ROLE_FIRST..CN_ROLE_LAST */

/* Bit of a role in a role mask. */
#define CN_ROLE_BIT(r) (1u << (unsigned)(r))
#define CN_ROLES_ANY                                                                               \
    (CN_ROLE_BIT(CN_ROLE_META) | CN_ROLE_BIT(CN_ROLE_CHUNK) | CN_ROLE_BIT(CN_ROLE_GATEWAY) |       \
     CN_ROLE_BIT(CN_ROLE_ADMIN))

/* "meta", "chunk", "gateway", "admin" ("legacy", "none"); never NULL. */
const char *cn_role_name(enum cn_role role);
/* Parses a signer role name (meta, chunk, gateway, admin). Returns 0 or
 * CAIRN_E_INVAL. */
int cn_role_parse(const char *name, size_t len, enum cn_role *out);

/* One entry of a route table. method is "GET", "PUT", ... (a GET entry also
 * covers HEAD, as routing does) or NULL for any method; path is matched
 * exactly, or as a prefix when prefix is set. served_by is the role of the
 * daemon that serves the route (what a client signs for), callers the mask
 * of roles allowed to call it. */
struct cn_roles_route {
    const char *method;
    const char *path;
    int prefix;
    enum cn_role served_by;
    unsigned callers;
};

struct cn_roles_table {
    const struct cn_roles_route *routes;
    size_t n;
};

/* The cluster's table (every route of cairn-meta and cairn-chunk). */
const struct cn_roles_table *cn_roles_cluster(void);

/* The first entry of table (NULL = the cluster's) matching method and the
 * decoded path (no query), or NULL. */
const struct cn_roles_route *cn_roles_find(const struct cn_roles_table *table, const char *method,
                                           const char *path);

/* The role of the daemon serving method + target (path, "?query" ignored),
 * for a client that signs a request: CN_ROLE_NONE when the table has no
 * entry. */
enum cn_role cn_roles_served_by(const struct cn_roles_table *table, const char *method,
                                const char *target);

/* 1 if role may call method + decoded path per table (NULL = the
 * cluster's), else 0 (CN_ROLE_LEGACY: always 1). */
int cn_roles_allowed(const struct cn_roles_table *table, enum cn_role role, const char *method,
                     const char *path);

/* POST /v1/cmd: 1 if role may submit an md.Command whose op is op_case (the
 * generated MD__COMMAND__OP_* value, the field number), else 0. meta, admin
 * and legacy may submit every op. A new md.Command op must be added to the
 * table in cn_roles.c (test_cn_roles checks that every op is listed). */
int cn_roles_command_allowed(enum cn_role role, uint32_t op_case);
/* POST /v1/read: the same for an md.Query (MD__QUERY__Q_* values). */
int cn_roles_query_allowed(enum cn_role role, uint32_t q_case);

/* 1 if op_case / q_case has an entry in the command / query table (whatever
 * its roles): for the test that every operation is classified. */
int cn_roles_command_known(uint32_t op_case);
int cn_roles_query_known(uint32_t q_case);

#endif
