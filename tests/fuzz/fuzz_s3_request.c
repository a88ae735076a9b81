/* Harness s3_request: an S3 request's line and headers through every parser
 * the gateway runs before it reads a body (gateway/gw_req.c), the router
 * (s3_classify in gw_s3.c, via its private header) and the ACL headers
 * (gw_acl_from_headers).
 *
 * Input (text): method, Host, raw path (percent-encoded), raw query, then
 * one "Name: value" header per line up to the end. Oracles besides the
 * sanitizers: a parsed target's bucket and key fit their limits; a key
 * URI-encoded then decoded is itself; classify names an operation. */
#include "fuzz.h"

#include "gw_acl.h"
#include "gw_req.h"
#include "gw_s3_int.h"

#include "cn_error.h"

#include <stdlib.h>
#include <string.h>

#define MAX_HEADERS 64

/* The one object a request's conditions are evaluated against. */
static const char *const etag = "9b2cf535f27731c974343645a3985328";
static const int64_t mtime_ms = 1369353600000;

static void parse_headers(const struct gw_header *h, size_t n)
{
    enum gw_s3err e;
    struct gw_range r;
    const char *v;
    if ((v = gw_header_get(h, n, "Range")) != NULL) {
        for (uint64_t size = 0; size < 3; size++)
            gw_range_parse(v, size, &r);
        if (gw_range_parse(v, 1000, &r) == GW_RANGE_PARTIAL)
            fuzz_check(r.first <= r.last && r.last < 1000, "range %llu-%llu",
                       (unsigned long long)r.first, (unsigned long long)r.last);
    }
    struct gw_cond c;
    gw_cond_from_headers(h, n, &c);
    for (int exists = 0; exists < 2; exists++)
        for (int gh = 0; gh < 2; gh++)
            gw_cond_eval(&c, exists, etag, mtime_ms, gh);
    gw_cond_from_copy_headers(h, n, &c);
    gw_cond_eval_copy(&c, 1, etag, mtime_ms);

    struct gw_meta meta;
    if (gw_meta_collect(h, n, &meta, &e) == 0) {
        fuzz_check(meta.total <= GW_MAX_USER_METADATA, "metadata %zu bytes", meta.total);
        gw_meta_free(&meta);
    }
    unsigned char md5[16];
    if ((v = gw_header_get(h, n, "Content-MD5")) != NULL)
        gw_content_md5_parse(v, md5);
    if ((v = gw_header_get(h, n, "x-amz-copy-source")) != NULL) {
        struct gw_copy_source cs;
        if (gw_copy_source_parse(v, &cs, &e) == 0)
            fuzz_check(cs.bucket[0] && cs.key[0], "copy source without bucket or key");
    }
    if ((v = gw_header_get(h, n, "x-amz-copy-source-range")) != NULL &&
        gw_copy_source_range_parse(v, 5000, &r, &e) == 0)
        fuzz_check(r.first <= r.last && r.last < 5000, "copy range");
    int replace;
    gw_metadata_directive_parse(gw_header_get(h, n, "x-amz-metadata-directive"), &replace, &e);
    gw_storage_class_lookup(gw_header_get(h, n, "x-amz-storage-class"));
    if ((v = gw_header_get(h, n, "Content-Encoding")) != NULL) {
        char out[256];
        int len = gw_content_encoding_strip_aws_chunked(v, out, sizeof(out));
        fuzz_check(len < 0 || ((size_t)len < sizeof(out) && strlen(out) == (size_t)len),
                   "content-encoding %d", len);
    }
    int64_t t;
    if ((v = gw_header_get(h, n, "Date")) != NULL)
        gw_http_date_parse(v, &t);
    if ((v = gw_header_get(h, n, "x-amz-date")) != NULL)
        gw_amz_date_parse(v, &t);

    struct gw_acl_headers ah = {
        .acl = gw_header_get(h, n, "x-amz-acl"),
        .grant_read = gw_header_get(h, n, "x-amz-grant-read"),
        .grant_write = gw_header_get(h, n, "x-amz-grant-write"),
        .grant_read_acp = gw_header_get(h, n, "x-amz-grant-read-acp"),
        .grant_write_acp = gw_header_get(h, n, "x-amz-grant-write-acp"),
        .grant_full_control = gw_header_get(h, n, "x-amz-grant-full-control"),
    };
    const struct gw_acl_owner owner = {"c0ffee-alice", "alice"};
    const struct gw_acl_owner bucket_owner = {"c0ffee-bob", "bob"};
    for (int on_object = 0; on_object < 2; on_object++) {
        struct gw_acl *acl = NULL;
        const char *msg = NULL;
        if (gw_acl_from_headers(&ah, &owner, on_object ? &bucket_owner : NULL, &acl, &e, &msg) ==
                0 &&
            acl) {
            fuzz_check(acl->n_grants <= GW_ACL_MAX_GRANTS, "%zu grants", acl->n_grants);
            uint8_t *packed;
            size_t plen;
            struct gw_acl *back = NULL;
            fuzz_check(gw_acl_pack(acl, &packed, &plen) == 0, "pack of a header ACL");
            fuzz_check(gw_acl_unpack(packed, plen, &back) == 0 && gw_acl_equal(acl, back),
                       "a header ACL does not survive pack/unpack");
            free(packed);
            gw_acl_free(back);
            gw_acl_free(acl);
        }
    }
}

static void parse_query(const struct gw_query *q)
{
    enum gw_s3err e;
    long l;
    int part, enc;
    gw_query_int(q, "max-keys", 1000, 0, 1000, &l, &e);
    gw_query_int(q, "max-parts", 1000, 1, 1000, &l, &e);
    const char *v;
    if ((v = gw_query_get(q, "partNumber")) != NULL && gw_part_number_parse(v, &part, &e) == 0)
        fuzz_check(part >= 1 && part <= 10000, "part %d", part);
    gw_encoding_type_parse(gw_query_get(q, "encoding-type"), &enc, &e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in;
    fuzz_in_init(&in, data, size);
    const char *method = fuzz_line(&in, NULL);
    const char *host = fuzz_line(&in, NULL);
    size_t plen;
    const char *raw_path = fuzz_line(&in, &plen);
    const char *raw_query = fuzz_line(&in, NULL);

    struct s3_req *r = calloc(1, sizeof(*r));
    if (!r)
        abort();
    while (fuzz_in_more(&in) && r->n_hdrs < MAX_HEADERS) {
        char *line = fuzz_line(&in, NULL);
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        char *value = colon + 1;
        while (*value == ' ')
            value++;
        r->hdrs[r->n_hdrs].name = line;
        r->hdrs[r->n_hdrs].value = value;
        r->n_hdrs++;
    }

    enum gw_s3err e = GW_S3_OK;
    char *path = fuzz_alloc(&in, plen + 1);
    if (gw_url_decode(raw_path, strlen(raw_path), path, plen + 1, 0) < 0)
        strcpy(path, raw_path);
    if (gw_target_parse(host[0] ? host : NULL, "s3.local", path, &r->t, &e) == 0) {
        fuzz_check(strlen(r->t.bucket) <= GW_MAX_BUCKET_NAME, "bucket too long");
        fuzz_check(strlen(r->t.key) <= GW_MAX_KEY, "key too long");
        gw_bucket_name_valid(r->t.bucket);
        /* SigV4's UriEncode and its decoding are inverses. */
        struct gw_buf enc;
        gw_buf_init(&enc, 0);
        gw_uri_encode(&enc, r->t.key, strlen(r->t.key), 1);
        if (!gw_buf_error(&enc) && enc.len) {
            char *back = fuzz_alloc(&in, enc.len + 1);
            int n = gw_url_decode(enc.data, enc.len, back, enc.len + 1, 0);
            fuzz_check(n >= 0 && strcmp(back, r->t.key) == 0, "key \"%s\" does not round-trip",
                       r->t.key);
        }
        gw_buf_free(&enc);
        if (gw_query_parse(raw_query, &r->q, &e) == 0) {
            r->have_q = 1;
            enum s3_op op = s3_classify(method, r);
            fuzz_check(op >= OP_UNKNOWN && op < OP__COUNT, "op %d", (int)op);
            fuzz_check(s3_op_name(op) != NULL, "op %d has no name", (int)op);
            parse_query(&r->q);
            gw_query_free(&r->q);
        }
    }
    parse_headers(r->hdrs, r->n_hdrs);
    free(r);
    fuzz_in_free(&in);
    return 0;
}
