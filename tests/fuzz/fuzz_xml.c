/* Harness xml: every XML request body the gateway parses -- the
 * CompleteMultipartUpload, Delete and CreateBucketConfiguration documents
 * (gateway/gw_xml.c), the AccessControlPolicy of PutBucketAcl and
 * PutObjectAcl (gateway/gw_acl.c), the Tagging document (gw_tagging.c), the
 * CORSConfiguration (gw_cors.c) and the LifecycleConfiguration
 * (gw_lifecycle.c) -- all seven on every input (each checks its root
 * element first, so the corpus files are plain documents).
 *
 * Oracles: the parsers' documented limits hold (1..10000 parts in strictly
 * ascending order, 1..1000 non-empty keys, at most 100 grants, 50 tags,
 * 100 CORS rules, 1000 lifecycle rules); the keys of a Delete written back
 * as a document parse to the same keys; an ACL rendered by gw_acl_xml
 * parses back to an equal ACL, and so does its protobuf encoding; a tag
 * set, a CORS configuration and a lifecycle configuration written back
 * parse to the same thing (the lifecycle one compared by its protobuf
 * encoding). */
#include "fuzz.h"

#include "gw_acl.h"
#include "gw_cors.h"
#include "gw_lifecycle.h"
#include "gw_tagging.h"
#include "gw_xml.h"

#include <stdlib.h>
#include <string.h>

static void complete(const char *body, size_t len)
{
    struct gw_xml_part *parts = NULL;
    size_t n = 0;
    enum gw_s3err e;
    if (gw_xml_parse_complete(body, len, &parts, &n, &e) != 0)
        return;
    fuzz_check(n >= 1 && n <= GW_XML_MAX_PARTS, "%zu parts", n);
    for (size_t i = 0; i < n; i++) {
        fuzz_check(parts[i].part_number >= 1 && parts[i].part_number <= 10000, "part %d",
                   parts[i].part_number);
        fuzz_check(i == 0 || parts[i].part_number > parts[i - 1].part_number, "order");
        fuzz_check(parts[i].etag[0] && strlen(parts[i].etag) < sizeof(parts[i].etag), "etag");
    }
    free(parts);
}

static void delete_objects(const char *body, size_t len)
{
    struct gw_xml_delete_req d;
    enum gw_s3err e;
    if (gw_xml_parse_delete(body, len, &d, &e) != 0)
        return;
    fuzz_check(d.n >= 1 && d.n <= GW_XML_MAX_DELETE, "%zu keys", d.n);
    struct gw_buf b;
    gw_buf_init(&b, 0);
    gw_buf_puts(&b, "<Delete>");
    if (d.quiet)
        gw_buf_puts(&b, "<Quiet>true</Quiet>");
    for (size_t i = 0; i < d.n; i++) {
        fuzz_check(d.keys[i] && d.keys[i][0], "empty key %zu", i);
        gw_buf_puts(&b, "<Object><Key>");
        gw_buf_xml_escape(&b, d.keys[i], strlen(d.keys[i]));
        gw_buf_puts(&b, "</Key></Object>");
    }
    gw_buf_puts(&b, "</Delete>");
    fuzz_check(gw_buf_error(&b) == 0, "building the document");
    struct gw_xml_delete_req back;
    fuzz_check(gw_xml_parse_delete(b.data, b.len, &back, &e) == 0, "rewritten Delete refused: %s",
               b.data);
    fuzz_check(back.n == d.n && back.quiet == d.quiet, "rewritten Delete differs");
    for (size_t i = 0; i < d.n; i++)
        fuzz_check(strcmp(back.keys[i], d.keys[i]) == 0, "key %zu: \"%s\" came back as \"%s\"", i,
                   d.keys[i], back.keys[i]);
    gw_xml_delete_req_free(&back);
    gw_buf_free(&b);
    gw_xml_delete_req_free(&d);
}

static void create_bucket(const char *body, size_t len)
{
    char region[64];
    enum gw_s3err e;
    if (gw_xml_parse_create_bucket(body, len, region, sizeof(region), &e) == 0)
        fuzz_check(strlen(region) < sizeof(region), "region");
}

static void acl(const char *body, size_t len)
{
    struct gw_acl *a = NULL;
    enum gw_s3err e;
    const char *msg;
    if (gw_acl_parse_xml(body, len, &a, &e, &msg) != 0)
        return;
    fuzz_check(a->n_grants <= GW_ACL_MAX_GRANTS, "%zu grants", a->n_grants);
    if (a->owner_id) {
        struct gw_buf b;
        gw_buf_init(&b, 0);
        fuzz_check(gw_acl_xml(&b, a) == 0, "rendering a parsed ACL");
        struct gw_acl *back = NULL;
        int rc = gw_acl_parse_xml(b.data, b.len, &back, &e, &msg);
        fuzz_check(rc == 0 && gw_acl_equal(a, back), "rendered ACL does not parse back: %s",
                   b.data);
        gw_acl_free(back);
        gw_buf_free(&b);

        uint8_t *packed;
        size_t plen;
        fuzz_check(gw_acl_pack(a, &packed, &plen) == 0, "packing a parsed ACL");
        back = NULL;
        fuzz_check(gw_acl_unpack(packed, plen, &back) == 0 && gw_acl_equal(a, back),
                   "a parsed ACL does not survive pack/unpack");
        gw_acl_free(back);
        free(packed);
    }
    gw_acl_free(a);
}

static void tagging(const char *body, size_t len)
{
    struct gw_tags t, back;
    enum gw_s3err e;
    const char *msg;
    if (gw_tags_parse_xml(body, len, GW_TAGS_BUCKET, &t, &e, &msg) != 0)
        return;
    fuzz_check(t.n <= GW_TAGS_MAX_BUCKET, "%zu tags", t.n);
    struct gw_buf b;
    gw_buf_init(&b, 0);
    fuzz_check(gw_tags_xml(&b, t.tags, t.n) == 0, "rendering tags");
    fuzz_check(gw_tags_parse_xml(b.data, b.len, GW_TAGS_BUCKET, &back, &e, &msg) == 0 &&
                   back.n == t.n,
               "rendered tags do not parse back: %s", b.data);
    for (size_t i = 0; i < t.n; i++)
        fuzz_check(strcmp(t.tags[i].key, back.tags[i].key) == 0 &&
                       strcmp(t.tags[i].value, back.tags[i].value) == 0,
                   "tag %zu differs", i);
    gw_tags_free(&back);
    gw_tags_free(&t);
    gw_buf_free(&b);
}

static void cors(const char *body, size_t len)
{
    struct gw_cors c, back;
    enum gw_s3err e;
    char msg[GW_CORS_MSG_MAX];
    if (gw_cors_parse_xml(body, len, &c, &e, msg) != 0) {
        fuzz_check(strlen(msg) < GW_CORS_MSG_MAX, "message");
        return;
    }
    fuzz_check(c.n >= 1 && c.n <= GW_CORS_MAX_RULES, "%zu rules", c.n);
    struct gw_buf b, b2;
    gw_buf_init(&b, 0);
    gw_buf_init(&b2, 0);
    fuzz_check(gw_cors_xml(&b, &c) == 0, "rendering CORS");
    fuzz_check(gw_cors_parse_xml(b.data, b.len, &back, &e, msg) == 0,
               "rendered CORS does not parse back: %s", b.data);
    fuzz_check(gw_cors_xml(&b2, &back) == 0 && b.len == b2.len &&
                   memcmp(b.data, b2.data, b.len) == 0,
               "CORS differs once written and read back");
    gw_cors_free(&back);
    gw_cors_free(&c);
    gw_buf_free(&b);
    gw_buf_free(&b2);
}

static void lifecycle(const char *body, size_t len)
{
    struct gw_lifecycle lc, back;
    enum gw_s3err e;
    char msg[GW_LC_MSG_MAX];
    if (gw_lifecycle_parse_xml(body, len, &lc, &e, msg) != 0) {
        fuzz_check(lc.cfg.n_rules == 0 && strlen(msg) < GW_LC_MSG_MAX, "refusal");
        return;
    }
    fuzz_check(lc.cfg.n_rules >= 1 && lc.cfg.n_rules <= GW_LC_MAX_RULES, "%zu rules",
               lc.cfg.n_rules);
    struct gw_buf b;
    gw_buf_init(&b, 0);
    fuzz_check(gw_lifecycle_xml(&b, &lc.cfg) == 0, "rendering a lifecycle configuration");
    fuzz_check(gw_lifecycle_parse_xml(b.data, b.len, &back, &e, msg) == 0,
               "rendered lifecycle does not parse back (%s): %s", msg, b.data);
    size_t n1 = md__lifecycle_config__get_packed_size(&lc.cfg);
    size_t n2 = md__lifecycle_config__get_packed_size(&back.cfg);
    uint8_t *p1 = malloc(n1 + 1), *p2 = malloc(n2 + 1);
    fuzz_check(p1 && p2, "memory");
    md__lifecycle_config__pack(&lc.cfg, p1);
    md__lifecycle_config__pack(&back.cfg, p2);
    fuzz_check(n1 == n2 && memcmp(p1, p2, n1) == 0, "lifecycle differs once written and read back");
    free(p1);
    free(p2);
    gw_lifecycle_free(&back);
    gw_lifecycle_free(&lc);
    gw_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    if (!inited) {
        gw_xml_init();
        inited = 1;
    }
    const char *body = (const char *)data;
    complete(body, size);
    delete_objects(body, size);
    create_bucket(body, size);
    acl(body, size);
    tagging(body, size);
    cors(body, size);
    lifecycle(body, size);
    return 0;
}
