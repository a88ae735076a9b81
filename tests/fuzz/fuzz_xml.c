/* Harness xml: every XML request body the gateway parses -- the
 * CompleteMultipartUpload, Delete and CreateBucketConfiguration documents
 * (gateway/gw_xml.c) and the AccessControlPolicy of PutBucketAcl and
 * PutObjectAcl (gateway/gw_acl.c) -- all four on every input (each checks
 * its root element first, so the corpus files are plain documents).
 *
 * Oracles: the parsers' documented limits hold (1..10000 parts in strictly
 * ascending order, 1..1000 non-empty keys, at most 100 grants); the keys of
 * a Delete written back as a document parse to the same keys; an ACL
 * rendered by gw_acl_xml parses back to an equal ACL, and so does its
 * protobuf encoding. */
#include "fuzz.h"

#include "gw_acl.h"
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
    return 0;
}
