/* Harness md_query: a packed md.Query -- what any client of the metadata
 * service may send to its read path -- run by md_query() on the fixture's
 * state (md_fixture.h: buckets, objects, uploads, users, chunkservers,
 * garbage).
 *
 * Input: the packed md.Query. Oracles: md_query answers every input with a
 * result (a malformed or unknown query is a status in the result, never an
 * internal error: the store is in memory and intact), and the result
 * decodes. */
#include "fuzz.h"
#include "md_fixture.h"

#include "md_cmd.h"
#include "md_query.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet_logs();
    struct md_store *s = md_fixture_store();
    uint8_t *out = NULL;
    size_t len = 0;
    int rc = md_query(s, data, size, &out, &len);
    fuzz_check(rc == 0, "md_query failed with %d", rc);
    Md__QueryResult *r = md_query_result_decode(out, len);
    fuzz_check(r != NULL, "the answer (%zu bytes) does not decode", len);
    md_query_result_free(r);
    free(out);
    return 0;
}
