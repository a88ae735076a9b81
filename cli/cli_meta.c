#include "cli_meta.h"

#include "cn_error.h"
#include "md_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_meta_commit(struct md_client *c, uint64_t seq, int build_rc, uint8_t *cmd, size_t len)
{
    return cli_meta_commit_why(c, seq, build_rc, cmd, len, NULL, 0);
}

int cli_meta_commit_why(struct md_client *c, uint64_t seq, int build_rc, uint8_t *cmd, size_t len,
                        char *why, size_t why_len)
{
    uint8_t *res = NULL;
    size_t rlen = 0;
    int rc = build_rc;
    if (why && why_len)
        why[0] = '\0';
    if (rc == 0)
        rc = md_client_command(c, seq, cmd, len, &res, &rlen);
    if (rc == 0) {
        Md__Result *r = md_result_decode(res, rlen);
        rc = r ? r->status : CAIRN_E_PROTO;
        if (r && rc != 0 && why && why_len && r->detail && r->detail[0])
            snprintf(why, why_len, "%s", r->detail);
        md_result_free(r);
    }
    if (rc != 0 && why && why_len && !why[0])
        snprintf(why, why_len, "%s", cairn_strerror(rc));
    free(cmd);
    free(res);
    return rc;
}

int cli_meta_query(struct md_client *c, int build_rc, uint8_t *q, size_t len, Md__QueryResult **out)
{
    uint8_t *res = NULL;
    size_t rlen = 0;
    int rc = build_rc;
    *out = NULL;
    if (rc == 0)
        rc = md_client_read(c, q, len, &res, &rlen);
    free(q);
    if (rc == 0 && !(*out = md_query_result_decode(res, rlen)))
        rc = CAIRN_E_PROTO;
    free(res);
    return rc;
}

int cli_meta_each_fragment(struct md_client *c, uint64_t cs,
                           int (*fn)(void *arg, const Md__FragmentRef *ref), void *arg)
{
    uint8_t after[16];
    uint32_t after_index = 0;
    int have_after = 0;
    for (;;) {
        uint8_t *q = NULL;
        size_t qlen = 0;
        Md__QueryResult *r = NULL;
        int rc = md_q_fragments_on(cs, have_after ? after : NULL, after_index, 1000, &q, &qlen);
        rc = cli_meta_query(c, rc, q, qlen, &r);
        if (rc == 0)
            rc = r->status;
        for (size_t i = 0; rc == 0 && i < r->n_fragments; i++)
            rc = fn(arg, r->fragments[i]);
        int more = rc == 0 && r->truncated && r->n_fragments > 0;
        if (more) {
            const Md__FragmentRef *last = r->fragments[r->n_fragments - 1];
            if (last->group_id.len == 16)
                memcpy(after, last->group_id.data, 16);
            after_index = last->index;
            have_after = 1;
        }
        if (r)
            md__query_result__free_unpacked(r, NULL);
        if (!more)
            return rc;
    }
}
