#include "cli_parity.h"

#include "cn_error.h"
#include "ec_codec.h"

#include <stdlib.h>
#include <string.h>

struct cli_parity {
    ec_codec *codec;
    int k, m;
    size_t len_max;
    uint8_t *parity[EC_MAX_M]; /* re-encoded parity */
    uint8_t *rebuilt;          /* the fragment under suspicion, rebuilt */
};

int cli_parity_new(int k, int m, size_t len_max, struct cli_parity **out)
{
    if (len_max == 0)
        return CAIRN_E_INVAL;
    struct cli_parity *p = calloc(1, sizeof(*p));
    if (!p)
        return CAIRN_E_NOMEM;
    int rc = ec_codec_new(k, m, &p->codec);
    if (rc != 0) {
        free(p);
        return rc;
    }
    p->k = k;
    p->m = m;
    p->len_max = len_max;
    p->rebuilt = malloc(len_max);
    rc = p->rebuilt ? 0 : CAIRN_E_NOMEM;
    for (int i = 0; i < m && rc == 0; i++)
        if (!(p->parity[i] = malloc(len_max)))
            rc = CAIRN_E_NOMEM;
    if (rc != 0) {
        cli_parity_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void cli_parity_free(struct cli_parity *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->m; i++)
        free(p->parity[i]);
    free(p->rebuilt);
    ec_codec_free(p->codec);
    free(p);
}

/* 1 when encoding frags' data gives frags' parity, 0 when not, or an error. */
static int consistent(struct cli_parity *p, const uint8_t *const *frags, size_t len)
{
    int rc = ec_encode(p->codec, len, frags, p->parity);
    if (rc != 0)
        return rc;
    for (int j = 0; j < p->m; j++)
        if (memcmp(p->parity[j], frags[p->k + j], len) != 0)
            return 0;
    return 1;
}

int cli_parity_check(struct cli_parity *p, const uint8_t *const *frags, size_t len, int *bad)
{
    if (len > p->len_max)
        return CAIRN_E_INVAL;
    *bad = -1;
    if (len == 0)
        return 0;
    int rc = consistent(p, frags, len);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    int n = p->k + p->m, found = -1, explained = 0;
    uint64_t all = n == 64 ? UINT64_MAX : (1ull << n) - 1;
    for (int f = 0; f < n; f++) {
        uint8_t *work[EC_MAX_FRAGS];
        for (int i = 0; i < n; i++)
            work[i] = (uint8_t *)frags[i]; /* only work[f] is written */
        work[f] = p->rebuilt;
        rc = ec_decode(p->codec, len, work, all & ~(1ull << f), 1ull << f);
        if (rc != 0)
            return rc;
        rc = consistent(p, (const uint8_t *const *)work, len);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            found = f;
            explained++;
        }
    }
    if (explained == 1)
        *bad = found;
    return 1;
}
