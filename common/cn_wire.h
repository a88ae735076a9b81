/* cn_wire: Cairn's internal HTTP API named once — every route, every
 * X-Cairn-* header and the few path formats, for every server and caller.
 * Bodies are the protobuf messages of the .proto files in common/proto/ (the one schema);
 * docs/transport.md describes the signing, docs/metadata.md and
 * docs/chunkserver.md the requests. No route or X-Cairn-* name is written as
 * a string literal anywhere else.
 *
 * Route macros are paths without a query; the cn_wire_*_target() helpers
 * build the targets that carry arguments (path + query, as signed). */
#ifndef CAIRN_CN_WIRE_H
#define CAIRN_CN_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* ---- metadata replica (cairn-meta) ------------------------------------- */
/* Replica to replica: framed px.Msg (u32 big-endian length + bytes) -> 204 */
#define CN_ROUTE_PAXOS_MSG "/paxos/msg"
/* Replica to replica: an md_snap stream; X-Cairn-From, X-Cairn-Snapshot-Slot */
#define CN_ROUTE_PAXOS_SNAPSHOT "/paxos/snapshot"
/* POST packed md.Command; X-Cairn-Client, X-Cairn-Seq -> packed md.Result */
#define CN_ROUTE_MD_CMD "/v1/cmd"
/* POST packed md.Query -> packed md.QueryResult (linearizable) */
#define CN_ROUTE_MD_READ "/v1/read"
/* POST: md.Batch of commands and queries -> md.BatchResult (meta.proto) */
#define CN_ROUTE_MD_BATCH "/v1/batch"
/* GET ?count=N[&min=M][&exclude=ID,...] -> "ID ADDRESS" lines (leader) */
#define CN_ROUTE_MD_PLACE "/v1/place"
/* POST cl.Heartbeat -> cl.HeartbeatReply (leader) */
#define CN_ROUTE_MD_HEARTBEAT "/v1/heartbeat"
/* POST [?group=HEX]: rescan now / repair one group first (leader) */
#define CN_ROUTE_MD_REPAIR "/v1/repair"
/* POST ?group=HEX&index=N&cs=ID: a fragment was read or scrubbed bad */
#define CN_ROUTE_MD_REPAIR_DAMAGE "/v1/repair/damage"
/* GET: chunkservers and the repair queue, one line each (leader) */
#define CN_ROUTE_MD_CLUSTER "/v1/cluster"
/* POST [?below=PERCENT] (leader): a compaction pass over the packed groups
 * now, with another threshold; answers "compacted N" */
#define CN_ROUTE_MD_COMPACT "/v1/packed/compact"
/* GET: "name value" lines; ?hash=1 adds the state hash */
#define CN_ROUTE_MD_STATUS      "/v1/status"
#define CN_QUERY_MD_STATUS_HASH "hash=1"
/* GET (any replica, its own view): "member ID URL voter|learner" lines and
 * "leader ID" — how a joining replica and a client find the group */
#define CN_ROUTE_MD_MEMBERS "/v1/members"
/* POST ?op=add&url=URL | ?op=remove&id=N (leader): a membership change;
 * answers "id N" */
#define CN_ROUTE_MD_CHANGE "/v1/meta/change"
/* POST (any replica): compact this replica's LevelDB store to its last level
 * now; answers "ms N", "before_bytes N", "before_files L0,...,L6", "after_..." */
#define CN_ROUTE_MD_STORE_COMPACT "/v1/meta/compact-store"

/* ---- chunkserver (cairn-chunk) ----------------------------------------- */
/* PUT/GET/HEAD/DELETE /v1/fragment/<32 hex group id>/<index>;
 * POST ...?append=OFFSET (an open fragment of a packed group grows by whole
 * units; K, M, Unit headers) and POST ...?seal=LENGTH (it becomes an
 * ordinary fragment of that length) */
#define CN_ROUTE_CS_FRAGMENT "/v1/fragment/"
#define CN_ARG_CS_APPEND     "append"
#define CN_ARG_CS_SEAL       "seal"
/* POST chunk.RebuildRequest: pull k peers' fragments, store the lost one */
#define CN_ROUTE_CS_REBUILD "/v1/rebuild"
/* POST chunk.CompactRequest (the metadata leader's compactor): write a
 * fragment of a new packed group from ranges of this chunkserver's own
 * fragment of the old one; answers its data CRC */
#define CN_ROUTE_CS_COMPACT "/v1/compact"
/* GET: "key value" lines (id, capacity, free space, inventory, scrub) */
#define CN_ROUTE_CS_STATUS "/v1/admin/status"
/* GET: every committed fragment, "<group hex> <index>" lines (streamed) */
#define CN_ROUTE_CS_INVENTORY "/v1/admin/inventory"
/* GET: damaged fragments, one per line */
#define CN_ROUTE_CS_DAMAGED "/v1/admin/damaged"
/* POST: start a scrub pass now (after the one running, if any) */
#define CN_ROUTE_CS_SCRUB "/v1/admin/scrub"
/* GET bodies up to this size are read and verified whole before the status
 * line is sent, so a bad block gives an error status; longer ones are
 * streamed and a bad block aborts the connection mid-body. */
#define CN_WIRE_CS_VERIFIED_MAX (1u << 20)

/* ---- gateway and every daemon ------------------------------------------ */
#define CN_ROUTE_METRICS   "/metrics"       /* Prometheus text, public */
#define CN_ROUTE_GW_STATUS "/_cairn/status" /* the gateway's status page */

/* ---- headers ------------------------------------------------------------ */
/* Internal authentication (cn_auth.h, docs/security.md): the request's
 * signature and the answer's */
#define CN_HDR_SIGNATURE          "X-Cairn-Signature"
#define CN_HDR_RESPONSE_SIGNATURE "X-Cairn-Response-Signature"
/* The pre-roles scheme CAIRN1, only with --auth-compat-v1 */
#define CN_HDR_DATE      "X-Cairn-Date"
#define CN_HDR_BODY_HASH "X-Cairn-Content-SHA256"
#define CN_HDR_AUTH      "X-Cairn-Auth"

#define CN_HDR_REQUEST_ID "X-Cairn-Request-Id"
/* Metadata commands: the client request id (one command in flight per client) */
#define CN_HDR_CLIENT "X-Cairn-Client"
#define CN_HDR_SEQ    "X-Cairn-Seq"
/* 421 answers of a follower: the leader's id and base URL */
#define CN_HDR_LEADER     "X-Cairn-Leader"
#define CN_HDR_LEADER_URL "X-Cairn-Leader-Url"
/* Answers to clients: a fingerprint (hex) of the group's membership; when it
 * changes, md_client asks for the members again (GET /v1/members). */
#define CN_HDR_MEMBERS "X-Cairn-Members"
/* Snapshot streams */
#define CN_HDR_FROM          "X-Cairn-From"
#define CN_HDR_SNAPSHOT_SLOT "X-Cairn-Snapshot-Slot"
/* Fragment description (PUT request; GET/HEAD responses) */
#define CN_HDR_K        "X-Cairn-K"
#define CN_HDR_M        "X-Cairn-M"
#define CN_HDR_UNIT     "X-Cairn-Unit"
#define CN_HDR_DATA_LEN "X-Cairn-Data-Length" /* decimal bytes of fragment data */
#define CN_HDR_DATA_CRC "X-Cairn-Data-CRC32C" /* 8 hex digits, CRC32C of all data */
/* GET responses of at most CN_WIRE_CS_VERIFIED_MAX bytes: CRC32C of the body */
#define CN_HDR_RANGE_CRC "X-Cairn-Range-CRC32C"
/* PUT/rebuild responses: created, identical or replaced */
#define CN_HDR_PUT_RESULT "X-Cairn-Put-Result"
/* Append responses (also 409): the open fragment's acknowledged length */
#define CN_HDR_OPEN_LENGTH "X-Cairn-Open-Length"
/* GET/HEAD responses of an open fragment: "1" (its data CRC is not known) */
#define CN_HDR_OPEN "X-Cairn-Open"
/* Error responses: a short machine-readable reason ("corrupt", "nospace") */
#define CN_HDR_ERROR "X-Cairn-Error"

/* CRC32C header values (CN_HDR_DATA_CRC, CN_HDR_RANGE_CRC): exactly 8 hex
 * digits. Parse returns 0 or CAIRN_E_INVAL (NULL or malformed). */
int cn_wire_crc_parse(const char *value, uint32_t *crc);
void cn_wire_crc_format(uint32_t crc, char out[9]);

/* ---- targets with arguments --------------------------------------------
 * Each writes a NUL-terminated request target into out (cap bytes; a
 * CN_WIRE_TARGET_MAX buffer always suffices) and returns 0, or CAIRN_E_INVAL
 * when it does not fit or an argument is out of range. */
#define CN_WIRE_TARGET_MAX 192
/* Enough for any fragment target. */
#define CN_WIRE_FRAGMENT_TARGET_MAX 64

/* "/v1/fragment/<32 hex>/<index>" */
int cn_wire_fragment_target(char *out, size_t cap, const uint8_t group_id[16], uint32_t index);
/* Parses a decoded fragment path (the inverse). Returns 0 or CAIRN_E_INVAL. */
int cn_wire_fragment_parse(const char *path, uint8_t group_id[16], uint32_t *index);
/* "/v1/repair/damage?group=<hex>&index=N&cs=ID" */
int cn_wire_damage_target(char *out, size_t cap, const uint8_t group_id[16], uint32_t index,
                          uint64_t cs);
/* "/v1/repair" or "/v1/repair?group=<hex>" (group_id NULL = rescan all) */
int cn_wire_repair_target(char *out, size_t cap, const uint8_t *group_id);
/* "/v1/place?count=N&min=M" (+ "&exclude=A,B,..." when n_exclude > 0) */
int cn_wire_place_target(char *out, size_t cap, uint32_t count, uint32_t min,
                         const uint64_t *exclude, size_t n_exclude);

#endif
