#include "cs_hist.h"

void cs_hist_init(cs_hist *h)
{
    cn_hist_init(h);
}

void cs_hist_record(cs_hist *h, uint64_t us)
{
    cn_hist_record(h, us);
}

void cs_hist_render(const cs_hist *h, const char *name, const char *help, FILE *out)
{
    cn_hist_render(out, h, name, help);
}
