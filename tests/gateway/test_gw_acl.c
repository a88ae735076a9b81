/* S3 ACLs: canned ACLs, x-amz-grant-* headers, AccessControlPolicy XML in
 * and out (byte for byte against the layout AWS documents, and round trips),
 * the permission check, the protobuf storage encoding, and a mutation fuzz
 * of the XML parser and the decoder. */
#include "gw_acl.h"
#include "gw_mutate.h"
#include "gw_xml.h"

#include "cn_error.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct gw_acl_owner alice = {"c0ffee-alice", "alice"};
static const struct gw_acl_owner bob = {"c0ffee-bob", "bob"};

/* A compact description of an ACL: "g<perm>" per grant, e.g.
 * "U:c0ffee-alice=FULL_CONTROL A=READ" (U user, A AllUsers, T
 * AuthenticatedUsers, L LogDelivery). */
static void describe(const struct gw_acl *acl, char *out, size_t cap)
{
    out[0] = '\0';
    for (size_t i = 0; i < acl->n_grants; i++) {
        const struct gw_acl_grant *g = &acl->grants[i];
        char one[400];
        const char *t = g->grantee == GW_ACL_USER                  ? "U:"
                        : g->grantee == GW_ACL_ALL_USERS           ? "A"
                        : g->grantee == GW_ACL_AUTHENTICATED_USERS ? "T"
                                                                   : "L";
        snprintf(one, sizeof(one), "%s%s%s=%s", i ? " " : "", t, g->id ? g->id : "",
                 gw_acl_perm_name(g->perm));
        strncat(out, one, cap - strlen(out) - 1);
    }
}

START_TEST(test_canned)
{
    static const struct {
        const char *name;
        int for_object; /* bucket owner given */
        const char *want;
    } rows[] = {
        {"private", 0, "U:c0ffee-bob=FULL_CONTROL"},
        {"public-read", 0, "U:c0ffee-bob=FULL_CONTROL A=READ"},
        {"public-read-write", 0, "U:c0ffee-bob=FULL_CONTROL A=READ A=WRITE"},
        {"authenticated-read", 0, "U:c0ffee-bob=FULL_CONTROL T=READ"},
        {"log-delivery-write", 0, "U:c0ffee-bob=FULL_CONTROL L=WRITE L=READ_ACP"},
        {"bucket-owner-read", 0, "U:c0ffee-bob=FULL_CONTROL"},
        {"bucket-owner-full-control", 0, "U:c0ffee-bob=FULL_CONTROL"},
        {"private", 1, "U:c0ffee-bob=FULL_CONTROL"},
        {"public-read", 1, "U:c0ffee-bob=FULL_CONTROL A=READ"},
        {"bucket-owner-read", 1, "U:c0ffee-bob=FULL_CONTROL U:c0ffee-alice=READ"},
        {"bucket-owner-full-control", 1, "U:c0ffee-bob=FULL_CONTROL U:c0ffee-alice=FULL_CONTROL"},
    };
    char got[512];
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct gw_acl *acl = NULL;
        enum gw_s3err err;
        const char *msg;
        ck_assert_int_eq(
            gw_acl_canned(rows[i].name, &bob, rows[i].for_object ? &alice : NULL, &acl, &err, &msg),
            0);
        ck_assert_int_eq(err, GW_S3_OK);
        ck_assert_str_eq(acl->owner_id, "c0ffee-bob");
        ck_assert_str_eq(acl->owner_display_name, "bob");
        describe(acl, got, sizeof(got));
        ck_assert_msg(strcmp(got, rows[i].want) == 0, "%s: %s", rows[i].name, got);
        gw_acl_free(acl);
    }
    /* the bucket owner writing its own object: no duplicate grant */
    struct gw_acl *acl = NULL;
    ck_assert_int_eq(gw_acl_canned("bucket-owner-full-control", &alice, &alice, &acl, NULL, NULL),
                     0);
    describe(acl, got, sizeof(got));
    ck_assert_str_eq(got, "U:c0ffee-alice=FULL_CONTROL");
    gw_acl_free(acl);

    static const char *const bad[] = {"Private", "public_read", "aws-exec-read", "", "x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum gw_s3err err = GW_S3_OK;
        const char *msg = NULL;
        acl = (struct gw_acl *)1;
        ck_assert_int_eq(gw_acl_canned(bad[i], &bob, NULL, &acl, &err, &msg), CAIRN_E_INVAL);
        ck_assert_ptr_null(acl);
        ck_assert_int_eq(err, GW_S3_INVALID_ARGUMENT);
        ck_assert_ptr_nonnull(msg);
    }
}
END_TEST

START_TEST(test_header_grants)
{
    static const struct {
        struct gw_acl_headers h;
        const char *want; /* NULL: error expected */
        enum gw_s3err err;
    } rows[] = {
        {{.grant_read = "id=\"c0ffee-carol\""}, "U:c0ffee-carol=READ", GW_S3_OK},
        {{.grant_read = "id=c0ffee-carol"}, "U:c0ffee-carol=READ", GW_S3_OK},
        {{.grant_read = "uri=\"" GW_ACL_URI_ALL_USERS "\""}, "A=READ", GW_S3_OK},
        {{.grant_write = "uri=http://acs.amazonaws.com/groups/global/AuthenticatedUsers"},
         "T=WRITE",
         GW_S3_OK},
        {{.grant_full_control = " ID = \"x1\" ,Uri=\"" GW_ACL_URI_LOG_DELIVERY "\",  id=x2 "},
         "U:x1=FULL_CONTROL L=FULL_CONTROL U:x2=FULL_CONTROL",
         GW_S3_OK},
        {{.grant_read = "id=a",
          .grant_write = "id=b",
          .grant_read_acp = "id=c",
          .grant_write_acp = "id=d",
          .grant_full_control = "id=e"},
         "U:a=READ U:b=WRITE U:c=READ_ACP U:d=WRITE_ACP U:e=FULL_CONTROL",
         GW_S3_OK},
        {{.acl = "public-read"}, "U:c0ffee-bob=FULL_CONTROL A=READ", GW_S3_OK},
        {{.acl = "public-read", .grant_read = "id=x"}, NULL, GW_S3_INVALID_REQUEST},
        {{.acl = "nope"}, NULL, GW_S3_INVALID_ARGUMENT},
        {{.grant_read = "emailAddress=\"bob@example.com\""},
         NULL,
         GW_S3_UNRESOLVABLE_GRANT_BY_EMAIL},
        {{.grant_read = "id=a, emailaddress=x@y"}, NULL, GW_S3_UNRESOLVABLE_GRANT_BY_EMAIL},
        {{.grant_read = "uri=\"http://acs.amazonaws.com/groups/global/Everyone\""},
         NULL,
         GW_S3_INVALID_ARGUMENT},
        {{.grant_read = ""}, NULL, GW_S3_INVALID_ARGUMENT},
        {{.grant_read = "   "}, NULL, GW_S3_INVALID_ARGUMENT},
        {{.grant_read = "c0ffee"}, NULL, GW_S3_INVALID_ARGUMENT},
        {{.grant_read = "id="}, NULL, GW_S3_INVALID_ARGUMENT},
        {{.grant_read = "id=\"\""}, NULL, GW_S3_INVALID_ARGUMENT},
        {{.grant_read = "id=\"abc"}, NULL, GW_S3_INVALID_ARGUMENT},
        {{.grant_read = "id=\"a\"b"}, NULL, GW_S3_INVALID_ARGUMENT},
        {{.grant_read = "id=a,"}, NULL, GW_S3_INVALID_ARGUMENT},
        {{.grant_read = ",id=a"}, NULL, GW_S3_INVALID_ARGUMENT},
        {{.grant_read = "user=a"}, NULL, GW_S3_INVALID_ARGUMENT},
        {{.grant_read = "id=a\tb"}, NULL, GW_S3_INVALID_ARGUMENT},
    };
    char got[512];
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct gw_acl *acl = NULL;
        enum gw_s3err err = GW_S3_INTERNAL_ERROR;
        const char *msg = NULL;
        int rc = gw_acl_from_headers(&rows[i].h, &bob, NULL, &acl, &err, &msg);
        ck_assert_msg(err == rows[i].err, "row %zu: err %s", i, gw_s3err_code(err));
        if (!rows[i].want) {
            ck_assert_int_eq(rc, CAIRN_E_INVAL);
            ck_assert_ptr_null(acl);
            continue;
        }
        ck_assert_int_eq(rc, 0);
        describe(acl, got, sizeof(got));
        ck_assert_msg(strcmp(got, rows[i].want) == 0, "row %zu: %s", i, got);
        ck_assert_str_eq(acl->owner_id, "c0ffee-bob");
        gw_acl_free(acl);
    }
    /* the message for both at once is S3's */
    struct gw_acl_headers both = {.acl = "private", .grant_write = "id=x"};
    struct gw_acl *acl = NULL;
    const char *msg = NULL;
    enum gw_s3err err;
    ck_assert_int_eq(gw_acl_from_headers(&both, &bob, NULL, &acl, &err, &msg), CAIRN_E_INVAL);
    ck_assert_str_eq(msg, "Specifying both Canned ACLs and Header Grants is not allowed");
    /* no ACL header: nothing, and no error */
    struct gw_acl_headers none = {0};
    ck_assert_int_eq(gw_acl_from_headers(&none, &bob, NULL, &acl, &err, &msg), 0);
    ck_assert_ptr_null(acl);
    ck_assert_int_eq(err, GW_S3_OK);
    /* at most 100 grants */
    char many[101 * 8 + 16] = "";
    for (int i = 0; i < 101; i++)
        sprintf(many + strlen(many), "%sid=u%d", i ? "," : "", i);
    struct gw_acl_headers lots = {.grant_read = many};
    ck_assert_int_eq(gw_acl_from_headers(&lots, &bob, NULL, &acl, &err, &msg), CAIRN_E_INVAL);
    ck_assert_int_eq(err, GW_S3_INVALID_ARGUMENT);
    *strrchr(many, ',') = '\0';
    ck_assert_int_eq(gw_acl_from_headers(&lots, &bob, NULL, &acl, &err, &msg), 0);
    ck_assert_uint_eq(acl->n_grants, 100);
    gw_acl_free(acl);
}
END_TEST

/* The GetBucketAcl answer for bob's public-read bucket with a grant to
 * carol, in the layout of AWS's documented example. */
static const char expected_xml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<AccessControlPolicy xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Owner><ID>c0ffee-bob</ID><DisplayName>bob</DisplayName></Owner>"
    "<AccessControlList>"
    "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
    "xsi:type=\"CanonicalUser\"><ID>c0ffee-bob</ID><DisplayName>bob</DisplayName></Grantee>"
    "<Permission>FULL_CONTROL</Permission></Grant>"
    "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
    "xsi:type=\"Group\"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee>"
    "<Permission>READ</Permission></Grant>"
    "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
    "xsi:type=\"CanonicalUser\"><ID>c0ffee-carol&amp;&lt;x&gt;</ID></Grantee>"
    "<Permission>WRITE_ACP</Permission></Grant>"
    "</AccessControlList></AccessControlPolicy>";

START_TEST(test_xml_render_and_round_trip)
{
    struct gw_acl *acl = NULL;
    ck_assert_int_eq(gw_acl_canned("public-read", &bob, NULL, &acl, NULL, NULL), 0);
    ck_assert_int_eq(gw_acl_add(acl, GW_ACL_USER, "c0ffee-carol&<x>", NULL, GW_ACL_WRITE_ACP), 0);
    struct gw_buf b;
    gw_buf_init(&b, 0);
    ck_assert_int_eq(gw_acl_xml(&b, acl), 0);
    ck_assert_str_eq(b.data, expected_xml);

    /* parse -> render -> parse gives the same ACL */
    struct gw_acl *back = NULL;
    enum gw_s3err err;
    ck_assert_int_eq(gw_acl_parse_xml(b.data, b.len, &back, &err, NULL), 0);
    ck_assert(gw_acl_equal(acl, back));
    struct gw_buf b2;
    gw_buf_init(&b2, 0);
    ck_assert_int_eq(gw_acl_xml(&b2, back), 0);
    ck_assert_str_eq(b2.data, b.data);
    gw_buf_free(&b2);
    gw_acl_free(back);

    /* every canned ACL and a header-built one survive the round trip */
    static const char *const names[] = {"private",           "public-read",
                                        "public-read-write", "authenticated-read",
                                        "bucket-owner-read", "bucket-owner-full-control",
                                        "log-delivery-write"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct gw_acl *c = NULL, *r = NULL;
        ck_assert_int_eq(gw_acl_canned(names[i], &bob, &alice, &c, NULL, NULL), 0);
        gw_buf_reset(&b);
        ck_assert_int_eq(gw_acl_xml(&b, c), 0);
        ck_assert_int_eq(gw_acl_parse_xml(b.data, b.len, &r, &err, NULL), 0);
        ck_assert_msg(gw_acl_equal(c, r), "%s", names[i]);
        gw_acl_free(c);
        gw_acl_free(r);
    }
    gw_buf_free(&b);
    gw_acl_free(acl);

    /* an ACL without owner cannot be rendered */
    gw_buf_init(&b, 0);
    struct gw_acl empty = {0};
    ck_assert_int_eq(gw_acl_xml(&b, &empty), CAIRN_E_INVAL);
    gw_buf_free(&b);
}
END_TEST

#define XSI "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
#define ACP(body)                                                                                  \
    "<AccessControlPolicy xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">" body                 \
    "</AccessControlPolicy>"
#define OWNER   "<Owner><ID>c0ffee-bob</ID></Owner>"
#define LIST(g) "<AccessControlList>" g "</AccessControlList>"
#define USER_GRANT(id, perm)                                                                       \
    "<Grant><Grantee " XSI " xsi:type=\"CanonicalUser\"><ID>" id "</ID></Grantee>"                 \
    "<Permission>" perm "</Permission></Grant>"

START_TEST(test_xml_parse)
{
    static const struct {
        const char *body;
        enum gw_s3err err; /* GW_S3_OK: parses */
        const char *want;
    } rows[] = {
        /* AWS's PutBucketAcl example layout, with whitespace and DisplayName */
        {"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" ACP(
             "\n  <Owner>\n    <ID>c0ffee-bob</ID>\n    <DisplayName>bob</DisplayName>\n  </Owner>"
             "\n  <AccessControlList>\n    <Grant>\n      <Grantee " XSI
             " xsi:type=\"CanonicalUser\">\n        <ID>c0ffee-bob</ID>\n"
             "        <DisplayName>bob</DisplayName>\n      </Grantee>\n"
             "      <Permission>FULL_CONTROL</Permission>\n    </Grant>\n    <Grant>\n"
             "      <Grantee " XSI " xsi:type=\"Group\">\n"
             "        <URI>http://acs.amazonaws.com/groups/s3/LogDelivery</URI>\n"
             "      </Grantee>\n      <Permission>WRITE</Permission>\n    </Grant>\n"
             "  </AccessControlList>\n"),
         GW_S3_OK, "U:c0ffee-bob=FULL_CONTROL L=WRITE"},
        /* no namespace, no Owner, empty list */
        {"<AccessControlPolicy><AccessControlList/></AccessControlPolicy>", GW_S3_OK, ""},
        /* other prefix for the XSI namespace; empty DisplayName */
        {ACP(OWNER LIST("<Grant><Grantee xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\" "
                        "i:type=\"CanonicalUser\"><ID>u</ID><DisplayName></DisplayName></Grantee>"
                        "<Permission>READ</Permission></Grant>")),
         GW_S3_OK, "U:u=READ"},
        {"", GW_S3_MALFORMED_ACL, NULL},
        {"<AccessControlPolicy>", GW_S3_MALFORMED_ACL, NULL},
        {"<Policy/>", GW_S3_MALFORMED_ACL, NULL},
        {ACP(OWNER), GW_S3_MALFORMED_ACL, NULL},
        {ACP(OWNER LIST("") LIST("")), GW_S3_MALFORMED_ACL, NULL},
        {ACP(OWNER OWNER LIST("")), GW_S3_MALFORMED_ACL, NULL},
        {ACP("<Owner><DisplayName>x</DisplayName></Owner>" LIST("")), GW_S3_MALFORMED_ACL, NULL},
        {ACP(OWNER LIST("") "<Extra/>"), GW_S3_MALFORMED_ACL, NULL},
        {ACP(OWNER LIST("<Entry/>")), GW_S3_MALFORMED_ACL, NULL},
        {ACP(OWNER LIST(USER_GRANT("u", "READ_WRITE"))), GW_S3_MALFORMED_ACL, NULL},
        {ACP(OWNER LIST(USER_GRANT("u", "read"))), GW_S3_MALFORMED_ACL, NULL},
        {ACP(OWNER LIST(USER_GRANT("", "READ"))), GW_S3_MALFORMED_ACL, NULL},
        {ACP(OWNER LIST("<Grant><Grantee " XSI " xsi:type=\"CanonicalUser\"><ID>u</ID></Grantee>"
                        "</Grant>")),
         GW_S3_MALFORMED_ACL, NULL},
        {ACP(OWNER LIST("<Grant><Grantee><ID>u</ID></Grantee><Permission>READ</Permission>"
                        "</Grant>")),
         GW_S3_MALFORMED_ACL, NULL},
        {ACP(OWNER LIST("<Grant><Grantee " XSI " xsi:type=\"Robot\"><ID>u</ID></Grantee>"
                        "<Permission>READ</Permission></Grant>")),
         GW_S3_MALFORMED_ACL, NULL},
        {ACP(OWNER LIST("<Grant><Grantee " XSI " xsi:type=\"CanonicalUser\"><ID>u</ID><ID>v</ID>"
                        "</Grantee><Permission>READ</Permission></Grant>")),
         GW_S3_MALFORMED_ACL, NULL},
        {ACP(OWNER LIST("<Grant><Grantee " XSI " xsi:type=\"CanonicalUser\"><URI>u</URI>"
                        "</Grantee><Permission>READ</Permission></Grant>")),
         GW_S3_MALFORMED_ACL, NULL},
        {ACP(OWNER LIST("<Grant><Grantee " XSI " xsi:type=\"CanonicalUser\"><ID>u<b/></ID>"
                        "</Grantee><Permission>READ</Permission></Grant>")),
         GW_S3_MALFORMED_ACL, NULL},
        {ACP(OWNER LIST("<Grant><Grantee " XSI " xsi:type=\"Group\"><URI>http://example.com/all"
                        "</URI></Grantee><Permission>READ</Permission></Grant>")),
         GW_S3_INVALID_ARGUMENT, NULL},
        {ACP(OWNER LIST("<Grant><Grantee " XSI " xsi:type=\"AmazonCustomerByEmail\">"
                        "<EmailAddress>a@b.c</EmailAddress></Grantee>"
                        "<Permission>READ</Permission></Grant>")),
         GW_S3_UNRESOLVABLE_GRANT_BY_EMAIL, NULL},
        /* entities and DTDs are refused */
        {"<!DOCTYPE AccessControlPolicy [<!ENTITY x \"u\">]>" ACP(
             OWNER LIST(USER_GRANT("&x;", "READ"))),
         GW_S3_MALFORMED_ACL, NULL},
        {ACP(OWNER LIST(USER_GRANT("&amp;u", "READ"))), GW_S3_OK, "U:&u=READ"},
    };
    char got[512];
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct gw_acl *acl = NULL;
        enum gw_s3err err = GW_S3_INTERNAL_ERROR;
        int rc = gw_acl_parse_xml(rows[i].body, strlen(rows[i].body), &acl, &err, NULL);
        ck_assert_msg(err == rows[i].err, "row %zu: %s", i, gw_s3err_code(err));
        if (rows[i].err != GW_S3_OK) {
            ck_assert_int_eq(rc, CAIRN_E_INVAL);
            ck_assert_ptr_null(acl);
            continue;
        }
        ck_assert_int_eq(rc, 0);
        describe(acl, got, sizeof(got));
        ck_assert_msg(strcmp(got, rows[i].want) == 0, "row %zu: %s", i, got);
        gw_acl_free(acl);
    }

    /* 100 grants parse, 101 do not */
    struct gw_buf b;
    gw_buf_init(&b, 0);
    gw_buf_puts(&b, "<AccessControlPolicy><AccessControlList>");
    for (int i = 0; i < 101; i++)
        gw_buf_printf(&b, USER_GRANT("u%d", "READ"), i);
    size_t cut = b.len;
    gw_buf_puts(&b, "</AccessControlList></AccessControlPolicy>");
    struct gw_acl *acl = NULL;
    enum gw_s3err err;
    ck_assert_int_eq(gw_acl_parse_xml(b.data, b.len, &acl, &err, NULL), CAIRN_E_INVAL);
    ck_assert_int_eq(err, GW_S3_MALFORMED_ACL);
    char *last = strstr(b.data, "<Grant><Grantee " XSI " xsi:type=\"CanonicalUser\"><ID>u100<");
    ck_assert_ptr_nonnull(last);
    memmove(last, b.data + cut, b.len - cut + 1);
    ck_assert_int_eq(gw_acl_parse_xml(b.data, strlen(b.data), &acl, &err, NULL), 0);
    ck_assert_uint_eq(acl->n_grants, 100);
    gw_acl_free(acl);
    gw_buf_free(&b);
}
END_TEST

START_TEST(test_allows)
{
    struct gw_acl *acl = NULL;
    ck_assert_int_eq(gw_acl_new(&bob, &acl), 0);
    ck_assert_int_eq(gw_acl_add(acl, GW_ACL_USER, "c0ffee-carol", "carol", GW_ACL_READ), 0);
    ck_assert_int_eq(gw_acl_add(acl, GW_ACL_USER, "c0ffee-dave", NULL, GW_ACL_FULL_CONTROL), 0);
    ck_assert_int_eq(gw_acl_add(acl, GW_ACL_AUTHENTICATED_USERS, NULL, NULL, GW_ACL_READ_ACP), 0);
    ck_assert_int_eq(gw_acl_add(acl, GW_ACL_LOG_DELIVERY, NULL, NULL, GW_ACL_WRITE), 0);
    static const struct {
        const char *who;
        enum gw_acl_perm perm;
        int want;
    } rows[] = {
        {"c0ffee-carol", GW_ACL_READ, 1},     {"c0ffee-carol", GW_ACL_WRITE, 0},
        {"c0ffee-carol", GW_ACL_READ_ACP, 1}, /* as an authenticated user */
        {"c0ffee-dave", GW_ACL_WRITE_ACP, 1}, {"c0ffee-dave", GW_ACL_WRITE, 1},
        {"c0ffee-bob", GW_ACL_READ, 0}, /* the owner's rights are not the ACL's */
        {NULL, GW_ACL_READ_ACP, 0},           {NULL, GW_ACL_WRITE, 0}, /* LogDelivery: nobody */
        {"c0ffee-carolx", GW_ACL_READ, 0},    {"c0ffee-caro", GW_ACL_READ, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        ck_assert_msg(gw_acl_allows(acl, rows[i].who, rows[i].perm) == rows[i].want, "row %zu", i);
    ck_assert_int_eq(gw_acl_add(acl, GW_ACL_ALL_USERS, NULL, NULL, GW_ACL_WRITE), 0);
    ck_assert_int_eq(gw_acl_allows(acl, NULL, GW_ACL_WRITE), 1);
    ck_assert_int_eq(gw_acl_allows(acl, NULL, GW_ACL_READ), 0);
    ck_assert_int_eq(gw_acl_allows(NULL, "c0ffee-dave", GW_ACL_READ), 0);
    ck_assert_int_eq(gw_acl_allows(acl, "c0ffee-dave", (enum gw_acl_perm)0), 0);

    /* gw_acl_add contract */
    ck_assert_int_eq(gw_acl_add(acl, GW_ACL_ALL_USERS, "x", NULL, GW_ACL_READ), CAIRN_E_INVAL);
    ck_assert_int_eq(gw_acl_add(acl, GW_ACL_USER, NULL, NULL, GW_ACL_READ), CAIRN_E_INVAL);
    ck_assert_int_eq(gw_acl_add(acl, GW_ACL_USER, "a\nb", NULL, GW_ACL_READ), CAIRN_E_INVAL);
    ck_assert_int_eq(gw_acl_add(acl, GW_ACL_USER, "a", NULL, (enum gw_acl_perm)9), CAIRN_E_INVAL);
    char longid[GW_ACL_MAX_ID + 2];
    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    ck_assert_int_eq(gw_acl_add(acl, GW_ACL_USER, longid, NULL, GW_ACL_READ), CAIRN_E_INVAL);
    longid[GW_ACL_MAX_ID] = '\0';
    ck_assert_int_eq(gw_acl_add(acl, GW_ACL_USER, longid, NULL, GW_ACL_READ), 0);
    while (acl->n_grants < GW_ACL_MAX_GRANTS)
        ck_assert_int_eq(gw_acl_add(acl, GW_ACL_ALL_USERS, NULL, NULL, GW_ACL_READ), 0);
    ck_assert_int_eq(gw_acl_add(acl, GW_ACL_ALL_USERS, NULL, NULL, GW_ACL_READ), CAIRN_E_RANGE);
    struct gw_acl *copy = NULL;
    ck_assert_int_eq(gw_acl_copy(acl, &copy), 0);
    ck_assert(gw_acl_equal(acl, copy));
    copy->grants[3].perm = GW_ACL_READ;
    ck_assert(!gw_acl_equal(acl, copy));
    gw_acl_free(copy);
    gw_acl_free(acl);
    struct gw_acl_owner noone = {"", NULL};
    ck_assert_int_eq(gw_acl_new(&noone, &acl), CAIRN_E_INVAL);
}
END_TEST

START_TEST(test_storage)
{
    struct gw_acl *acl = NULL, *back = NULL;
    struct gw_acl_headers h = {.grant_read = "id=c0ffee-carol,uri=" GW_ACL_URI_ALL_USERS,
                               .grant_write_acp = "uri=" GW_ACL_URI_AUTHENTICATED_USERS,
                               .grant_full_control = "uri=" GW_ACL_URI_LOG_DELIVERY};
    ck_assert_int_eq(gw_acl_from_headers(&h, &bob, NULL, &acl, NULL, NULL), 0);
    ck_assert_int_eq(gw_acl_add(acl, GW_ACL_USER, "c0ffee-dave", "Dave D.", GW_ACL_WRITE), 0);
    uint8_t *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(gw_acl_pack(acl, &buf, &len), 0);
    ck_assert_int_eq(gw_acl_unpack(buf, len, &back), 0);
    ck_assert(gw_acl_equal(acl, back));
    gw_acl_free(back);

    /* the message form, as embedded in another record */
    Md__Acl *m = NULL;
    ck_assert_int_eq(gw_acl_to_proto(acl, &m), 0);
    ck_assert_uint_eq(m->version, 1);
    ck_assert_uint_eq(m->n_grants, 5);
    ck_assert_int_eq(m->grants[0]->grantee, MD__ACL_GRANTEE__ACL_GRANTEE_USER);
    ck_assert_int_eq(m->grants[1]->grantee, MD__ACL_GRANTEE__ACL_GRANTEE_ALL_USERS);
    ck_assert_int_eq(m->grants[2]->permission, MD__ACL_PERMISSION__ACL_PERMISSION_WRITE_ACP);
    ck_assert_int_eq(m->grants[3]->grantee, MD__ACL_GRANTEE__ACL_GRANTEE_LOG_DELIVERY);
    ck_assert_int_eq(gw_acl_from_proto(m, &back), 0);
    ck_assert(gw_acl_equal(acl, back));
    gw_acl_free(back);
    /* invalid messages are refused */
    m->grants[1]->grantee = (Md__AclGrantee)9;
    ck_assert_int_eq(gw_acl_from_proto(m, &back), CAIRN_E_CORRUPT);
    m->grants[1]->grantee = MD__ACL_GRANTEE__ACL_GRANTEE_ALL_USERS;
    m->grants[1]->permission = MD__ACL_PERMISSION__ACL_PERMISSION_NONE;
    ck_assert_int_eq(gw_acl_from_proto(m, &back), CAIRN_E_CORRUPT);
    m->grants[1]->permission = MD__ACL_PERMISSION__ACL_PERMISSION_READ;
    m->version = 2;
    ck_assert_int_eq(gw_acl_from_proto(m, &back), CAIRN_E_CORRUPT);
    m->version = 1;
    char *saved = m->grants[1]->id;
    m->grants[1]->id = "x"; /* a group with an id */
    ck_assert_int_eq(gw_acl_from_proto(m, &back), CAIRN_E_CORRUPT);
    m->grants[1]->id = saved;
    ck_assert_int_eq(gw_acl_from_proto(m, &back), 0);
    gw_acl_free(back);
    gw_acl_proto_free(m);

    ck_assert_int_eq(gw_acl_unpack((const uint8_t *)"", 0, &back), CAIRN_E_CORRUPT);
    ck_assert_int_eq(gw_acl_unpack((const uint8_t *)"\xff\xff\xff", 3, &back), CAIRN_E_CORRUPT);

    /* truncations and bit flips never crash and never yield a half ACL */
    uint8_t *mut = malloc(len);
    struct gw_mutator mu;
    gw_mutator_init(&mu, 99, NULL, 0);
    for (int i = 0; i < 2000; i++) {
        memcpy(mut, buf, len);
        size_t ml = len;
        if (i % 2)
            ml = (size_t)(gw_mutator_next(&mu) % len);
        else
            mut[gw_mutator_next(&mu) % len] ^= (uint8_t)(1u << (gw_mutator_next(&mu) % 8));
        back = NULL;
        int rc = gw_acl_unpack(mut, ml, &back);
        ck_assert(rc == 0 || rc == CAIRN_E_CORRUPT);
        ck_assert(rc == 0 ? back != NULL : back == NULL);
        if (back) {
            ck_assert_uint_le(back->n_grants, GW_ACL_MAX_GRANTS);
            ck_assert_ptr_nonnull(back->owner_id);
        }
        gw_acl_free(back);
    }
    free(mut);
    free(buf);
    gw_acl_free(acl);
}
END_TEST

static const char *const xml_dict[] = {
    "<",
    ">",
    "</",
    "/>",
    "<Grant>",
    "</Grant>",
    "<Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"Group\">",
    "<URI>http://acs.amazonaws.com/groups/global/AllUsers</URI>",
    "<ID>x</ID>",
    "<Permission>READ</Permission>",
    "&amp;",
    "&#0;",
    "&x;",
    "<!DOCTYPE a [<!ENTITY x \"yyyyyyyyyy\">]>",
    "<![CDATA[c]]>",
    "<a>",
    "\xff\xfe",
    "xsi:type=\"AmazonCustomerByEmail\"",
};

START_TEST(test_xml_fuzz)
{
    struct gw_acl *seed_acl = NULL;
    ck_assert_int_eq(gw_acl_canned("log-delivery-write", &bob, NULL, &seed_acl, NULL, NULL), 0);
    ck_assert_int_eq(gw_acl_add(seed_acl, GW_ACL_USER, "c0ffee-carol", "carol", GW_ACL_READ), 0);
    struct gw_buf seed;
    gw_buf_init(&seed, 0);
    ck_assert_int_eq(gw_acl_xml(&seed, seed_acl), 0);
    gw_acl_free(seed_acl);

    struct gw_mutator m;
    gw_mutator_init(&m, 777, xml_dict, sizeof(xml_dict) / sizeof(xml_dict[0]));
    size_t parsed = 0, refused = 0;
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = 0;
        char *mut = gw_mutate(&m, seed.data, seed.len, &len);
        ck_assert_ptr_nonnull(mut);
        struct gw_acl *acl = NULL;
        enum gw_s3err err = GW_S3_INTERNAL_ERROR;
        int rc = gw_acl_parse_xml(mut, len, &acl, &err, NULL);
        if (rc == 0) {
            parsed++;
            ck_assert_int_eq(err, GW_S3_OK);
            /* whatever parses renders, and reparses to the same ACL */
            if (acl->owner_id) {
                struct gw_buf b;
                gw_buf_init(&b, 0);
                ck_assert_int_eq(gw_acl_xml(&b, acl), 0);
                struct gw_acl *again = NULL;
                ck_assert_msg(gw_acl_parse_xml(b.data, b.len, &again, &err, NULL) == 0,
                              "iter %d: rendered ACL does not parse:\n%s", iter, b.data);
                ck_assert(gw_acl_equal(acl, again));
                gw_acl_free(again);
                gw_buf_free(&b);
            }
            gw_acl_free(acl);
        } else {
            ck_assert_int_eq(rc, CAIRN_E_INVAL);
            ck_assert_ptr_null(acl);
            ck_assert(err == GW_S3_MALFORMED_ACL || err == GW_S3_INVALID_ARGUMENT ||
                      err == GW_S3_UNRESOLVABLE_GRANT_BY_EMAIL);
            refused++;
        }
        free(mut);
    }
    ck_assert_uint_gt(parsed, 15);
    ck_assert_uint_gt(refused, 1000);
    gw_buf_free(&seed);
}
END_TEST

START_TEST(test_error_table_entries)
{
    ck_assert_str_eq(gw_s3err_code(GW_S3_MALFORMED_POLICY), "MalformedPolicy");
    ck_assert_int_eq(gw_s3err_status(GW_S3_MALFORMED_POLICY), 400);
    ck_assert_str_eq(gw_s3err_code(GW_S3_MALFORMED_ACL), "MalformedACLError");
    ck_assert_int_eq(gw_s3err_status(GW_S3_MALFORMED_ACL), 400);
    ck_assert_str_eq(gw_s3err_code(GW_S3_UNRESOLVABLE_GRANT_BY_EMAIL),
                     "UnresolvableGrantByEmailAddress");
    ck_assert_int_eq(gw_s3err_status(GW_S3_UNRESOLVABLE_GRANT_BY_EMAIL), 400);
    ck_assert_str_eq(gw_s3err_code(GW_S3_NO_SUCH_BUCKET_POLICY), "NoSuchBucketPolicy");
    ck_assert_int_eq(gw_s3err_status(GW_S3_NO_SUCH_BUCKET_POLICY), 404);
    enum gw_s3err e;
    ck_assert_int_eq(gw_s3err_from_code("MalformedACLError", &e), 0);
    ck_assert_int_eq(e, GW_S3_MALFORMED_ACL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("gw_acl");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_canned);
    tcase_add_test(tc, test_header_grants);
    tcase_add_test(tc, test_xml_render_and_round_trip);
    tcase_add_test(tc, test_xml_parse);
    tcase_add_test(tc, test_allows);
    tcase_add_test(tc, test_storage);
    tcase_add_test(tc, test_xml_fuzz);
    tcase_add_test(tc, test_error_table_entries);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    gw_xml_init();
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
