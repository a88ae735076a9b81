#include "cn_roles.h"

#include "cn_error.h"
#include "cn_wire.h"
#include "meta.pb-c.h"

#include <string.h>

#define META    CN_ROLE_BIT(CN_ROLE_META)
#define CHUNK   CN_ROLE_BIT(CN_ROLE_CHUNK)
#define GATEWAY CN_ROLE_BIT(CN_ROLE_GATEWAY)
#define ADMIN   CN_ROLE_BIT(CN_ROLE_ADMIN)

static const char *const role_names[] = {"none", "meta", "chunk", "gateway", "admin", "legacy"};

const char *cn_role_name(enum cn_role role)
{
    return (unsigned)role < sizeof(role_names) / sizeof(role_names[0]) ? role_names[role] : "?";
}

int cn_role_parse(const char *name, size_t len, enum cn_role *out)
{
    for (int r = CN_ROLE_FIRST; r <= CN_ROLE_LAST; r++) {
        if (strlen(role_names[r]) == len && memcmp(role_names[r], name, len) == 0) {
            *out = (enum cn_role)r;
            return 0;
        }
    }
    return CAIRN_E_INVAL;
}

/* THE table: every protected route of cairn-meta and cairn-chunk, who serves
 * it and who may call it. First match wins (longer paths first where one is
 * a prefix of another). */
static const struct cn_roles_route cluster_routes[] = {
    /* cairn-meta: replica to replica */
    {"POST", CN_ROUTE_PAXOS_MSG, 0, CN_ROLE_META, META},
    {"POST", CN_ROUTE_PAXOS_SNAPSHOT, 0, CN_ROLE_META, META},
    /* cairn-meta: clients (the op in the body is checked again below) */
    {"POST", CN_ROUTE_MD_CMD, 0, CN_ROLE_META, META | GATEWAY | CHUNK | ADMIN},
    {"POST", CN_ROUTE_MD_READ, 0, CN_ROLE_META, META | GATEWAY | CHUNK | ADMIN},
    {"POST", CN_ROUTE_MD_BATCH, 0, CN_ROLE_META, META | GATEWAY | CHUNK | ADMIN},
    {"GET", CN_ROUTE_MD_PLACE, 0, CN_ROLE_META, GATEWAY | ADMIN},
    {"POST", CN_ROUTE_MD_HEARTBEAT, 0, CN_ROLE_META, CHUNK},
    {"POST", CN_ROUTE_MD_REPAIR_DAMAGE, 0, CN_ROLE_META, CHUNK | GATEWAY | ADMIN},
    {"POST", CN_ROUTE_MD_REPAIR, 0, CN_ROLE_META, ADMIN},
    {"GET", CN_ROUTE_MD_CLUSTER, 0, CN_ROLE_META, GATEWAY | ADMIN},
    {"POST", CN_ROUTE_MD_COMPACT, 0, CN_ROLE_META, ADMIN},
    {"GET", CN_ROUTE_MD_STATUS, 0, CN_ROLE_META, META | GATEWAY | CHUNK | ADMIN},
    {"GET", CN_ROUTE_MD_MEMBERS, 0, CN_ROLE_META, META | GATEWAY | CHUNK | ADMIN},
    {"POST", CN_ROUTE_MD_CHANGE, 0, CN_ROLE_META, ADMIN},
    {"POST", CN_ROUTE_MD_STORE_COMPACT, 0, CN_ROLE_META, ADMIN},
    /* cairn-chunk */
    {"PUT", CN_ROUTE_CS_FRAGMENT, 1, CN_ROLE_CHUNK, GATEWAY | ADMIN},
    {"GET", CN_ROUTE_CS_FRAGMENT, 1, CN_ROLE_CHUNK, GATEWAY | CHUNK | ADMIN},
    {"DELETE", CN_ROUTE_CS_FRAGMENT, 1, CN_ROLE_CHUNK, GATEWAY | ADMIN},
    /* ?append / ?seal of an open fragment (packed groups): the gateway's
     * writes; the metadata leader seals groups their writer left open */
    {"POST", CN_ROUTE_CS_FRAGMENT, 1, CN_ROLE_CHUNK, GATEWAY | META | ADMIN},
    {"POST", CN_ROUTE_CS_REBUILD, 0, CN_ROLE_CHUNK, META | ADMIN},
    /* packed-group compaction: the metadata leader's compactor */
    {"POST", CN_ROUTE_CS_COMPACT, 0, CN_ROLE_CHUNK, META | ADMIN},
    {"POST", CN_ROUTE_CS_SCRUB, 0, CN_ROLE_CHUNK, ADMIN},
    {"GET", CN_ROUTE_CS_STATUS, 0, CN_ROLE_CHUNK, ADMIN},
    {"GET", CN_ROUTE_CS_INVENTORY, 0, CN_ROLE_CHUNK, ADMIN},
    {"GET", CN_ROUTE_CS_DAMAGED, 0, CN_ROLE_CHUNK, ADMIN},
    /* /metrics when a daemon serves it signed (cairn-chunk without
     * --metrics-public); both daemons have it: served_by is the chunkserver,
     * a client asking a replica names the role itself. */
    {"GET", CN_ROUTE_METRICS, 0, CN_ROLE_CHUNK, ADMIN},
};

static const struct cn_roles_table cluster_table = {cluster_routes, sizeof(cluster_routes) /
                                                                        sizeof(cluster_routes[0])};

const struct cn_roles_table *cn_roles_cluster(void)
{
    return &cluster_table;
}

static int method_matches(const char *entry, const char *method)
{
    if (!entry)
        return 1;
    if (strcmp(entry, method) == 0)
        return 1;
    return strcmp(entry, "GET") == 0 && strcmp(method, "HEAD") == 0;
}

/* path[0..len) against the entry's path */
static int path_matches(const struct cn_roles_route *r, const char *path, size_t len)
{
    size_t plen = strlen(r->path);
    if (r->prefix)
        return len >= plen && memcmp(path, r->path, plen) == 0;
    return len == plen && memcmp(path, r->path, plen) == 0;
}

static const struct cn_roles_route *find(const struct cn_roles_table *t, const char *method,
                                         const char *path, size_t len)
{
    if (!t)
        t = &cluster_table;
    if (!method || !path)
        return NULL;
    for (size_t i = 0; i < t->n; i++) {
        const struct cn_roles_route *r = &t->routes[i];
        if (method_matches(r->method, method) && path_matches(r, path, len))
            return r;
    }
    return NULL;
}

const struct cn_roles_route *cn_roles_find(const struct cn_roles_table *table, const char *method,
                                           const char *path)
{
    return path ? find(table, method, path, strlen(path)) : NULL;
}

enum cn_role cn_roles_served_by(const struct cn_roles_table *table, const char *method,
                                const char *target)
{
    if (!target)
        return CN_ROLE_NONE;
    const struct cn_roles_route *r = find(table, method, target, strcspn(target, "?"));
    return r ? r->served_by : CN_ROLE_NONE;
}

int cn_roles_allowed(const struct cn_roles_table *table, enum cn_role role, const char *method,
                     const char *path)
{
    if (role == CN_ROLE_LEGACY)
        return 1;
    if (role < CN_ROLE_FIRST || role > CN_ROLE_LAST)
        return 0;
    const struct cn_roles_route *r = cn_roles_find(table, method, path);
    return r && (r->callers & CN_ROLE_BIT(role)) != 0;
}

/* ---- operations inside POST /v1/cmd and POST /v1/read ----
 * meta and admin may do every operation; these say what the gateway (S3
 * on behalf of users) and the chunkservers (what a chunkserver reports) may
 * do. Every op must appear, with 0 if neither may use it. */
struct op_entry {
    uint32_t op;
    unsigned callers; /* beyond meta and admin */
};

static const struct op_entry command_ops[] = {
    {MD__COMMAND__OP_NOOP, GATEWAY | CHUNK},
    {MD__COMMAND__OP_CREATE_BUCKET, GATEWAY},
    {MD__COMMAND__OP_DELETE_BUCKET, GATEWAY},
    {MD__COMMAND__OP_PUT_OBJECT, GATEWAY},
    {MD__COMMAND__OP_DELETE_OBJECT, GATEWAY},
    {MD__COMMAND__OP_CREATE_UPLOAD, GATEWAY},
    {MD__COMMAND__OP_PUT_PART, GATEWAY},
    {MD__COMMAND__OP_COMPLETE_UPLOAD, GATEWAY},
    {MD__COMMAND__OP_ABORT_UPLOAD, GATEWAY},
    {MD__COMMAND__OP_REGISTER_CS, CHUNK},
    {MD__COMMAND__OP_SET_CS_STATE, 0},
    {MD__COMMAND__OP_MOVE_FRAGMENT, 0},
    {MD__COMMAND__OP_GARBAGE_ADD, GATEWAY},
    {MD__COMMAND__OP_GARBAGE_ACK, CHUNK},
    {MD__COMMAND__OP_CREATE_KEY, 0},
    {MD__COMMAND__OP_DELETE_KEY, 0},
    {MD__COMMAND__OP_DELETE_OBJECTS, GATEWAY},
    {MD__COMMAND__OP_UPDATE_ATTRS, GATEWAY},
    {MD__COMMAND__OP_CREATE_USER, 0},
    {MD__COMMAND__OP_DELETE_USER, 0},
    {MD__COMMAND__OP_SET_KEY_STATE, 0},
    {MD__COMMAND__OP_SET_QUOTA, 0},
    {MD__COMMAND__OP_PUT_BUCKET_ACL, GATEWAY},
    {MD__COMMAND__OP_PUT_BUCKET_POLICY, GATEWAY},
    {MD__COMMAND__OP_PUT_OBJECT_ACL, GATEWAY},
    {MD__COMMAND__OP_SET_REPLICA, 0},
    /* versioning and object lock, tagging, CORS (issue #13): S3 operations */
    {MD__COMMAND__OP_PUT_BUCKET_VERSIONING, GATEWAY},
    {MD__COMMAND__OP_PUT_OBJECT_LOCK_CONFIG, GATEWAY},
    {MD__COMMAND__OP_PUT_OBJECT_RETENTION, GATEWAY},
    {MD__COMMAND__OP_PUT_OBJECT_LEGAL_HOLD, GATEWAY},
    {MD__COMMAND__OP_PUT_OBJECT_TAGGING, GATEWAY},
    {MD__COMMAND__OP_PUT_BUCKET_TAGGING, GATEWAY},
    {MD__COMMAND__OP_PUT_BUCKET_CORS, GATEWAY},
    {MD__COMMAND__OP_PUT_BUCKET_LIFECYCLE, GATEWAY},
    /* the metadata leader's own lifecycle worker commits these in-process:
     * no daemon sends them */
    {MD__COMMAND__OP_LIFECYCLE_EXPIRE, 0},
    /* packed groups (issue #17): the gateway's packer opens, appends to and
     * seals its groups; the leader's sealing worker seals idle ones */
    {MD__COMMAND__OP_OPEN_GROUP, GATEWAY},
    {MD__COMMAND__OP_COMMIT_PACKED, GATEWAY},
    {MD__COMMAND__OP_SEAL_GROUP, GATEWAY},
    /* the leader's compactor commits it in-process: no daemon sends it */
    {MD__COMMAND__OP_COMPACT_GROUP, 0},
    /* the bulk loader (`cairn load`, issue #16): records with no data path
     * behind them, so the operator's tools only, never the gateway */
    {MD__COMMAND__OP_LOAD_OBJECTS, 0},
};

static const struct op_entry query_ops[] = {
    {MD__QUERY__Q_GET_OBJECT, GATEWAY},
    {MD__QUERY__Q_HEAD_BUCKET, GATEWAY},
    {MD__QUERY__Q_LIST_BUCKETS, GATEWAY},
    {MD__QUERY__Q_LIST_OBJECTS, GATEWAY},
    {MD__QUERY__Q_LIST_PARTS, GATEWAY},
    {MD__QUERY__Q_LIST_UPLOADS, GATEWAY},
    {MD__QUERY__Q_LIST_CHUNKSERVERS, GATEWAY | CHUNK},
    {MD__QUERY__Q_GET_GROUP, GATEWAY | CHUNK},
    {MD__QUERY__Q_FRAGMENTS_ON, GATEWAY | CHUNK},
    {MD__QUERY__Q_LIST_GARBAGE, GATEWAY | CHUNK},
    {MD__QUERY__Q_GET_ACCESS_KEY, GATEWAY},
    {MD__QUERY__Q_LIST_ACCESS_KEYS, GATEWAY},
    {MD__QUERY__Q_STATE_INFO, GATEWAY | CHUNK},
    {MD__QUERY__Q_GET_USER, GATEWAY},
    {MD__QUERY__Q_LIST_USERS, GATEWAY},
    {MD__QUERY__Q_LIST_REPLICAS, GATEWAY | CHUNK},
    {MD__QUERY__Q_LIST_VERSIONS, GATEWAY},
    {MD__QUERY__Q_LIST_PACKED, GATEWAY},
};

static const struct op_entry *op_find(const struct op_entry *t, size_t n, uint32_t op)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].op == op)
            return &t[i];
    return NULL;
}

static int op_allowed(const struct op_entry *t, size_t n, enum cn_role role, uint32_t op)
{
    /* meta and admin: everything (the state machine refuses what it does not
     * know); the others: what the table lists, nothing unknown. */
    if (role == CN_ROLE_META || role == CN_ROLE_ADMIN || role == CN_ROLE_LEGACY)
        return 1;
    if (role < CN_ROLE_FIRST || role > CN_ROLE_LAST)
        return 0;
    const struct op_entry *e = op_find(t, n, op);
    return e && (e->callers & CN_ROLE_BIT(role)) != 0;
}

int cn_roles_command_allowed(enum cn_role role, uint32_t op_case)
{
    return op_allowed(command_ops, sizeof(command_ops) / sizeof(command_ops[0]), role, op_case);
}

int cn_roles_query_allowed(enum cn_role role, uint32_t q_case)
{
    return op_allowed(query_ops, sizeof(query_ops) / sizeof(query_ops[0]), role, q_case);
}

int cn_roles_command_known(uint32_t op_case)
{
    return op_find(command_ops, sizeof(command_ops) / sizeof(command_ops[0]), op_case) != NULL;
}

int cn_roles_query_known(uint32_t q_case)
{
    return op_find(query_ops, sizeof(query_ops) / sizeof(query_ops[0]), q_case) != NULL;
}
