/* s3-cs-agent: registers chunkservers with the metadata service and sends
 * their heartbeats, for clusters whose cairn-chunk has no --meta option yet.
 *
 *   s3-cs-agent --meta URL,URL,... --secret-file F  DATA_DIR ADDRESS PID  [...]
 *
 * For each (DATA_DIR, ADDRESS, PID): the chunkserver id is the first 16 hex
 * digits of DATA_DIR/chunkserver-id; it is registered (md.RegisterChunkserver)
 * and, once a second while process PID lives, a cl.Heartbeat is POSTed to the
 * leader. A chunkserver whose process died gets no more heartbeats, so the
 * leader calls it down after its down_after. Runs until SIGTERM/SIGINT.
 * Test and cluster.sh helper only; goes away when cairn-chunk heartbeats. */
#include "cluster.pb-c.h"
#include "cn_auth.h"
#include "cn_error.h"
#include "cn_http_client.h"
#include "cn_util.h"
#include "md_client.h"
#include "md_cmd.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define MAX_CS 64

struct cs {
    char *dir;
    char *address;
    pid_t pid;
    uint64_t id;
    int registered;
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int read_id(const char *dir, uint64_t *id)
{
    char path[4096], *text = NULL;
    size_t len;
    snprintf(path, sizeof(path), "%s/chunkserver-id", dir);
    if (cn_read_file(path, 256, &text, &len) != 0)
        return CAIRN_E_NOTFOUND;
    char hex[17] = {0};
    int rc = CAIRN_E_INVAL;
    if (len >= 16) {
        memcpy(hex, text, 16);
        char *end;
        *id = strtoull(hex, &end, 16);
        rc = *end == '\0' ? 0 : CAIRN_E_INVAL;
        if (*id == 0)
            *id = 1;
    }
    free(text);
    return rc;
}

static void space_of(const char *dir, uint64_t *cap, uint64_t *free_b)
{
    struct statvfs sv;
    *cap = *free_b = 0;
    if (statvfs(dir, &sv) == 0) {
        *cap = (uint64_t)sv.f_blocks * sv.f_frsize;
        *free_b = (uint64_t)sv.f_bavail * sv.f_frsize;
    }
}

static int register_cs(struct md_client *mc, struct cs *c)
{
    uint64_t cap, fr;
    space_of(c->dir, &cap, &fr);
    struct md_cs_desc d = {.id = c->id, .address = c->address, .capacity = cap, .free = fr};
    uint64_t seq = md_client_next_seq(mc);
    uint8_t *cmd, *res = NULL;
    size_t len, rlen;
    int rc = md_cmd_register_cs(md_client_id(mc), seq, &d, cn_wall_ms(), &cmd, &len);
    if (rc != 0)
        return rc;
    rc = md_client_command(mc, seq, cmd, len, &res, &rlen);
    free(cmd);
    if (rc == 0)
        rc = md_result_status(res, rlen, NULL);
    free(res);
    return rc;
}

/* Posts one heartbeat to the leader. Returns 0 (and *reregister) or an error. */
static int heartbeat(struct md_client *mc, struct cn_http_client *hc, struct cs *c, int *reregister)
{
    uint64_t cap, fr;
    space_of(c->dir, &cap, &fr);
    Cl__Heartbeat hb = CL__HEARTBEAT__INIT;
    hb.id = c->id;
    hb.address = c->address;
    hb.capacity = cap;
    hb.free = fr;
    uint8_t buf[512];
    size_t n = cl__heartbeat__pack(&hb, buf);
    struct cn_http_request req = {.method = "POST",
                                  .base_url = md_client_leader(mc),
                                  .target = "/v1/heartbeat",
                                  .body = buf,
                                  .body_len = n,
                                  .timeout_ms = 2000};
    struct cn_http_response resp = {0};
    int rc = cn_http_client_do(hc, &req, &resp);
    if (rc == 0 && resp.status == 200) {
        Cl__HeartbeatReply *rep =
            cl__heartbeat_reply__unpack(NULL, resp.body_len, (const uint8_t *)resp.body);
        *reregister = rep && rep->register_;
        if (rep)
            cl__heartbeat_reply__free_unpacked(rep, NULL);
    } else if (rc == 0) {
        rc = CAIRN_E_NOTLEADER;
    }
    cn_http_response_clear(&resp);
    return rc;
}

/* Makes md_client find the leader again (a read goes to the leader). */
static void find_leader(struct md_client *mc)
{
    uint8_t *q, *res = NULL;
    size_t qlen, rlen;
    if (md_q_state_info(&q, &qlen) != 0)
        return;
    if (md_client_read(mc, q, qlen, &res, &rlen) == 0)
        free(res);
    free(q);
}

int main(int argc, char **argv)
{
    const char *meta = NULL, *secret_file = NULL;
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--meta") == 0)
            meta = argv[i + 1];
        else if (strcmp(argv[i], "--secret-file") == 0)
            secret_file = argv[i + 1];
    }
    if (!meta || !secret_file || (argc - i) % 3 != 0 || argc - i == 0 || (argc - i) / 3 > MAX_CS) {
        fprintf(stderr, "usage: s3-cs-agent --meta URL,... --secret-file F "
                        "DATA_DIR ADDRESS PID [DATA_DIR ADDRESS PID ...]\n");
        return 2;
    }
    struct cs cs[MAX_CS];
    size_t n_cs = 0;
    for (; i < argc; i += 3, n_cs++)
        cs[n_cs] =
            (struct cs){.dir = argv[i], .address = argv[i + 1], .pid = (pid_t)atoi(argv[i + 2])};
    char *urls[MD_CLIENT_MAX_REPLICAS];
    size_t n_urls = 0;
    char *mcopy = strdup(meta), *save = NULL;
    for (char *t = strtok_r(mcopy, ",", &save); t && n_urls < MD_CLIENT_MAX_REPLICAS;
         t = strtok_r(NULL, ",", &save))
        urls[n_urls++] = t;
    struct cn_auth *auth = NULL;
    if (cn_auth_new_from_file(secret_file, 0, &auth) != 0) {
        fprintf(stderr, "s3-cs-agent: cannot read secret file %s\n", secret_file);
        return 1;
    }
    struct md_client *mc = NULL;
    struct md_client_opts mo = {.replicas = (const char *const *)urls,
                                .n_replicas = n_urls,
                                .auth = auth,
                                .timeout_ms = 5000};
    struct cn_http_client_opts ho = {.auth = auth, .connect_timeout_ms = 1000, .timeout_ms = 3000};
    struct cn_http_client *hc = NULL;
    if (md_client_new(&mo, &mc) != 0 || cn_http_client_new(&ho, &hc) != 0) {
        fprintf(stderr, "s3-cs-agent: out of memory\n");
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    while (!stop_flag) {
        for (size_t j = 0; j < n_cs && !stop_flag; j++) {
            struct cs *c = &cs[j];
            if (c->pid > 0 && kill(c->pid, 0) != 0)
                continue; /* the chunkserver is gone: let the leader notice */
            if (!c->id && read_id(c->dir, &c->id) != 0)
                continue; /* not formatted yet */
            if (!c->registered) {
                int rc = register_cs(mc, c);
                if (rc == 0) {
                    c->registered = 1;
                    fprintf(stderr, "s3-cs-agent: registered %" PRIu64 " at %s\n", c->id,
                            c->address);
                } else {
                    fprintf(stderr, "s3-cs-agent: register %s: %s\n", c->address,
                            cairn_strerror(rc));
                    continue;
                }
            }
            int rereg = 0;
            int rc = heartbeat(mc, hc, c, &rereg);
            if (rc != 0)
                find_leader(mc);
            else if (rereg)
                c->registered = 0;
        }
        for (int t = 0; t < 10 && !stop_flag; t++)
            usleep(100 * 1000);
    }
    cn_http_client_free(hc);
    md_client_free(mc);
    cn_auth_free(auth);
    free(mcopy);
    return 0;
}
