/* The chunkserver's HTTP API names, shared by the server, the rebuild client
 * and the tests. docs/chunkserver.md describes the requests. */
#ifndef CAIRN_CS_API_H
#define CAIRN_CS_API_H

/* PUT/GET/HEAD/DELETE  /v1/fragment/<32 hex group id>/<index> */
#define CS_API_FRAGMENT "/v1/fragment/"
/* POST /v1/rebuild, body chunk.RebuildRequest */
#define CS_API_REBUILD "/v1/rebuild"
/* GET: "key value" lines (id, capacity, free space, inventory, scrub) */
#define CS_API_STATUS "/v1/admin/status"
/* GET: every committed fragment, "<group hex> <index>" lines in path order
 * (streamed; chunked encoding) */
#define CS_API_INVENTORY "/v1/admin/inventory"
/* GET: damaged fragments, one per line */
#define CS_API_DAMAGED "/v1/admin/damaged"
/* POST: start a scrub pass now (after the one running, if any) */
#define CS_API_SCRUB   "/v1/admin/scrub"
#define CS_API_METRICS "/metrics"

/* Fragment description (PUT request; GET/HEAD responses). */
#define CS_HDR_K        "X-Cairn-K"
#define CS_HDR_M        "X-Cairn-M"
#define CS_HDR_UNIT     "X-Cairn-Unit"
#define CS_HDR_DATA_LEN "X-Cairn-Data-Length" /* decimal bytes of fragment data */
#define CS_HDR_DATA_CRC "X-Cairn-Data-CRC32C" /* 8 hex digits, CRC32C of all data */
/* GET responses of at most CS_API_VERIFIED_MAX bytes: CRC32C of the body. */
#define CS_HDR_RANGE_CRC "X-Cairn-Range-CRC32C"
/* PUT/rebuild responses: created, identical or replaced. */
#define CS_HDR_PUT_RESULT "X-Cairn-Put-Result"
/* Error responses: a short machine-readable reason ("corrupt", "nospace"). */
#define CS_HDR_ERROR "X-Cairn-Error"

/* GET bodies up to this size are read and verified whole before the status
 * line is sent, so a bad block gives an error status; longer ones are
 * streamed and a bad block aborts the connection mid-body. */
#define CS_API_VERIFIED_MAX (1u << 20)

#endif
