#include "cn_config.h"
#include "cn_error.h"
#include "cn_util.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_CONFIG_FILE (1 << 20)

static const char *type_names[] = {
    [CN_CONF_STRING] = "string", [CN_CONF_INT] = "int",           [CN_CONF_BOOL] = "bool",
    [CN_CONF_SIZE] = "size",     [CN_CONF_DURATION] = "duration", [CN_CONF_LIST] = "list",
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static const char *prog(const struct cn_config_table *t)
{
    return t->program ? t->program : "cairn";
}

/* ---- value parsers ---- */

int cn_config_parse_int(const char *text, int64_t *out)
{
    if (!text || !*text || isspace((unsigned char)*text))
        return CAIRN_E_INVAL;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end != 0)
        return CAIRN_E_INVAL;
    if (errno == ERANGE)
        return CAIRN_E_RANGE;
    *out = v;
    return 0;
}

int cn_config_parse_bool(const char *text, bool *out)
{
    static const char *yes[] = {"true", "yes", "on", "1"};
    static const char *no[] = {"false", "no", "off", "0"};
    if (!text)
        return CAIRN_E_INVAL;
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return CAIRN_E_INVAL;
}

/* Parses a non-negative decimal number followed by a unit string. */
static int parse_number_unit(const char *text, uint64_t *num, const char **unit)
{
    if (!text || !isdigit((unsigned char)*text))
        return CAIRN_E_INVAL;
    uint64_t v = 0;
    const char *p = text;
    while (isdigit((unsigned char)*p)) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return CAIRN_E_RANGE;
        v = v * 10 + d;
        p++;
    }
    *num = v;
    *unit = p;
    return 0;
}

static int scale(uint64_t v, uint64_t mult, int64_t *out)
{
    if (mult != 0 && v > (uint64_t)INT64_MAX / mult)
        return CAIRN_E_RANGE;
    *out = (int64_t)(v * mult);
    return 0;
}

int cn_config_parse_size(const char *text, int64_t *out)
{
    uint64_t v;
    const char *u;
    int rc = parse_number_unit(text, &v, &u);
    if (rc < 0)
        return rc;
    /* "", "B", or K/M/G/T optionally followed by "B" or "iB" */
    uint64_t mult = 1;
    if (*u && toupper((unsigned char)*u) != 'B') {
        const char *units = "KMGT";
        const char *at = strchr(units, toupper((unsigned char)*u));
        if (!at)
            return CAIRN_E_INVAL;
        mult = 1ull << (10 * (at - units + 1));
        u++;
        if (strcasecmp(u, "ib") == 0)
            u += 2;
    }
    if (strcasecmp(u, "b") == 0)
        u++;
    if (*u)
        return CAIRN_E_INVAL;
    return scale(v, mult, out);
}

int cn_config_parse_duration_ms(const char *text, int64_t *out)
{
    uint64_t v;
    const char *u;
    int rc = parse_number_unit(text, &v, &u);
    if (rc < 0)
        return rc;
    uint64_t mult;
    if (*u == 0 || strcmp(u, "ms") == 0)
        mult = 1;
    else if (strcmp(u, "s") == 0)
        mult = 1000;
    else if (strcmp(u, "m") == 0)
        mult = 60 * 1000;
    else if (strcmp(u, "h") == 0)
        mult = 3600 * 1000;
    else
        return CAIRN_E_INVAL;
    return scale(v, mult, out);
}

/* ---- targets ---- */

static void list_free(struct cn_config_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static int list_parse(const char *text, struct cn_config_list *out)
{
    struct cn_config_list l = {0, NULL};
    size_t cap = 0;
    const char *p = text;
    while (*p) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        if (b > a) {
            if (l.n == cap) {
                size_t ncap = cap ? cap * 2 : 4;
                char **grown = realloc(l.items, ncap * sizeof(*grown));
                if (!grown)
                    goto err_nomem;
                l.items = grown;
                cap = ncap;
            }
            char *item = strndup(a, (size_t)(b - a));
            if (!item)
                goto err_nomem;
            l.items[l.n++] = item;
        }
        p = comma ? comma + 1 : end;
    }
    *out = l;
    return 0;
err_nomem:
    list_free(&l);
    return CAIRN_E_NOMEM;
}

static const struct cn_config_option *find_option(const struct cn_config_table *t, const char *name,
                                                  size_t name_len)
{
    for (size_t i = 0; i < t->n_options; i++) {
        const struct cn_config_option *o = &t->options[i];
        if (strlen(o->name) == name_len && strncmp(o->name, name, name_len) == 0)
            return o;
    }
    return NULL;
}

static int check_bounds(const struct cn_config_table *t, const struct cn_config_option *o,
                        const char *value, int64_t v, char *err, size_t errlen)
{
    if (o->min == 0 && o->max == 0)
        return 0;
    if (v < o->min || v > o->max) {
        set_err(err, errlen, "%s: --%s: %s is out of range [%" PRId64 ", %" PRId64 "]%s", prog(t),
                o->name, value, o->min, o->max,
                o->type == CN_CONF_SIZE       ? " bytes"
                : o->type == CN_CONF_DURATION ? " ms"
                                              : "");
        return CAIRN_E_RANGE;
    }
    return 0;
}

static int apply(const struct cn_config_table *t, const struct cn_config_option *o,
                 const char *value, char *err, size_t errlen)
{
    int rc = 0;
    int64_t v = 0;
    switch (o->type) {
    case CN_CONF_STRING: {
        char *copy = strdup(value ? value : "");
        if (!copy)
            return CAIRN_E_NOMEM;
        free(*o->target.s);
        *o->target.s = copy;
        return 0;
    }
    case CN_CONF_LIST: {
        struct cn_config_list l;
        rc = list_parse(value ? value : "", &l);
        if (rc < 0)
            return rc;
        list_free(o->target.l);
        *o->target.l = l;
        return 0;
    }
    case CN_CONF_BOOL: {
        bool b;
        if (cn_config_parse_bool(value, &b) < 0) {
            set_err(err, errlen, "%s: --%s: '%s' is not a bool (true/false)", prog(t), o->name,
                    value ? value : "");
            return CAIRN_E_INVAL;
        }
        *o->target.b = b;
        return 0;
    }
    case CN_CONF_INT:
        rc = cn_config_parse_int(value, &v);
        break;
    case CN_CONF_SIZE:
        rc = cn_config_parse_size(value, &v);
        break;
    case CN_CONF_DURATION:
        rc = cn_config_parse_duration_ms(value, &v);
        break;
    }
    if (rc < 0) {
        static const char *syntax[] = {
            [CN_CONF_INT] = "an integer",
            [CN_CONF_SIZE] = "a size (e.g. 4096, 256K, 64M, 1G)",
            [CN_CONF_DURATION] = "a duration (e.g. 250ms, 30s, 5m, 1h)",
        };
        if (rc == CAIRN_E_RANGE)
            set_err(err, errlen, "%s: --%s: '%s' overflows", prog(t), o->name, value);
        else
            set_err(err, errlen, "%s: --%s: '%s' is not %s", prog(t), o->name, value ? value : "",
                    syntax[o->type]);
        return rc;
    }
    rc = check_bounds(t, o, value, v, err, errlen);
    if (rc < 0)
        return rc;
    *o->target.i = v;
    return 0;
}

int cn_config_set(const struct cn_config_table *table, const char *name, const char *value,
                  char *err, size_t errlen)
{
    const struct cn_config_option *o = find_option(table, name, strlen(name));
    if (!o) {
        set_err(err, errlen, "%s: unknown option '%s' (try --help)", prog(table), name);
        return CAIRN_E_NOTFOUND;
    }
    return apply(table, o, value, err, errlen);
}

void cn_config_release(const struct cn_config_table *table)
{
    for (size_t i = 0; i < table->n_options; i++) {
        const struct cn_config_option *o = &table->options[i];
        if (o->type == CN_CONF_STRING && o->target.s) {
            free(*o->target.s);
            *o->target.s = NULL;
        } else if (o->type == CN_CONF_LIST && o->target.l) {
            list_free(o->target.l);
        }
    }
}

int cn_config_set_defaults(const struct cn_config_table *table, char *err, size_t errlen)
{
    for (size_t i = 0; i < table->n_options; i++) {
        const struct cn_config_option *o = &table->options[i];
        if (!o->default_value && o->type != CN_CONF_STRING && o->type != CN_CONF_LIST) {
            set_err(err, errlen, "%s: option '%s' has no default (table bug)", prog(table),
                    o->name);
            return CAIRN_E_INVAL;
        }
        int rc = apply(table, o, o->default_value, err, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- config file ---- */

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

static int parse_file_line(const struct cn_config_table *t, const char *path, int lineno,
                           char *line, char *err, size_t errlen)
{
    char *eq = strchr(line, '=');
    char *key, *value;
    /* strip comments: '#' at the start of the line or after whitespace, but not
     * inside a quoted value */
    char *s = trim(line);
    if (*s == 0 || *s == '#')
        return 0;
    if (!eq) {
        set_err(err, errlen, "%s: %s:%d: expected 'name = value'", prog(t), path, lineno);
        return CAIRN_E_INVAL;
    }
    *eq = 0;
    key = trim(s);
    value = trim(eq + 1);
    if (*value == '"') {
        char *close = strrchr(value + 1, '"');
        if (!close) {
            set_err(err, errlen, "%s: %s:%d: unterminated quote", prog(t), path, lineno);
            return CAIRN_E_INVAL;
        }
        char *rest = trim(close + 1);
        if (*rest != 0 && *rest != '#') {
            set_err(err, errlen, "%s: %s:%d: text after closing quote", prog(t), path, lineno);
            return CAIRN_E_INVAL;
        }
        *close = 0;
        value++;
    } else {
        for (char *p = value; *p; p++) {
            if (*p == '#' && (p == value || isspace((unsigned char)p[-1]))) {
                *p = 0;
                break;
            }
        }
        value = trim(value);
    }
    if (*key == 0) {
        set_err(err, errlen, "%s: %s:%d: missing option name", prog(t), path, lineno);
        return CAIRN_E_INVAL;
    }
    if (strcmp(key, "config") == 0) {
        set_err(err, errlen, "%s: %s:%d: 'config' cannot be set in a config file", prog(t), path,
                lineno);
        return CAIRN_E_INVAL;
    }
    const struct cn_config_option *o = find_option(t, key, strlen(key));
    if (!o) {
        set_err(err, errlen, "%s: %s:%d: unknown option '%s'", prog(t), path, lineno, key);
        return CAIRN_E_INVAL;
    }
    char inner[512];
    int rc = apply(t, o, value, inner, sizeof(inner));
    if (rc < 0)
        set_err(err, errlen, "%s:%d: %s", path, lineno, inner);
    return rc;
}

int cn_config_load_file(const struct cn_config_table *table, const char *path, char *err,
                        size_t errlen)
{
    char *buf;
    size_t len;
    int rc = cn_read_file(path, MAX_CONFIG_FILE, &buf, &len);
    if (rc < 0) {
        set_err(err, errlen, "%s: cannot read config file %s: %s", prog(table), path,
                cairn_strerror(rc));
        return rc;
    }
    int lineno = 0;
    char *p = buf;
    rc = 0;
    while (p && rc == 0) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = 0;
        lineno++;
        rc = parse_file_line(table, path, lineno, p, err, errlen);
        p = nl ? nl + 1 : NULL;
    }
    free(buf);
    return rc;
}

/* ---- command line ---- */

static int is_flag(const char *arg)
{
    return arg[0] == '-' && arg[1] == '-' && arg[2] != 0;
}

int cn_config_load(const struct cn_config_table *table, int argc, char **argv, int *next_arg,
                   char *err, size_t errlen)
{
    int rc = cn_config_set_defaults(table, err, errlen);
    if (rc < 0)
        return rc;

    /* Find the end of the flags, --help and --config first: the file applies
     * before any flag, wherever --config appears. */
    int end = argc;
    const char *config_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cn_config_print_help(table, stdout);
            return CN_CONFIG_HELP;
        }
        if (strcmp(a, "--") == 0 || !is_flag(a)) {
            end = i;
            break;
        }
        if (strcmp(a, "--config") == 0) {
            if (i + 1 >= argc) {
                set_err(err, errlen, "%s: --config needs a value", prog(table));
                return CAIRN_E_INVAL;
            }
            config_path = argv[++i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            config_path = a + 9;
        } else if (!strchr(a, '=')) {
            /* skip the value of a non-bool option */
            const struct cn_config_option *o = find_option(table, a + 2, strlen(a + 2));
            if (o && o->type != CN_CONF_BOOL)
                i++;
        }
    }
    if (config_path) {
        rc = cn_config_load_file(table, config_path, err, errlen);
        if (rc < 0)
            return rc;
    }

    for (int i = 1; i < end; i++) {
        const char *a = argv[i] + 2;
        if (strcmp(a, "config") == 0) {
            i++;
            continue;
        }
        if (strncmp(a, "config=", 7) == 0)
            continue;
        const char *eq = strchr(a, '=');
        size_t name_len = eq ? (size_t)(eq - a) : strlen(a);
        const struct cn_config_option *o = find_option(table, a, name_len);
        const char *value;
        if (!o && !eq && strncmp(a, "no-", 3) == 0) {
            const struct cn_config_option *neg = find_option(table, a + 3, name_len - 3);
            if (neg && neg->type == CN_CONF_BOOL) {
                *neg->target.b = false;
                continue;
            }
        }
        if (!o) {
            set_err(err, errlen, "%s: unknown option '--%.*s' (try --help)", prog(table),
                    (int)name_len, a);
            return CAIRN_E_INVAL;
        }
        if (eq) {
            value = eq + 1;
        } else if (o->type == CN_CONF_BOOL) {
            value = "true";
        } else {
            if (i + 1 >= argc) {
                set_err(err, errlen, "%s: --%s needs a value", prog(table), o->name);
                return CAIRN_E_INVAL;
            }
            value = argv[++i];
        }
        rc = apply(table, o, value, err, errlen);
        if (rc < 0)
            return rc;
    }

    if (end < argc && strcmp(argv[end], "--") == 0)
        end++;
    if (next_arg) {
        *next_arg = end;
    } else if (end < argc) {
        set_err(err, errlen, "%s: unexpected argument '%s' (try --help)", prog(table), argv[end]);
        return CAIRN_E_INVAL;
    }
    return 0;
}

/* ---- help ---- */

static void format_bound(const struct cn_config_option *o, int64_t v, char *buf, size_t len)
{
    if (o->type == CN_CONF_SIZE) {
        static const char *sfx[] = {"", "K", "M", "G", "T"};
        int k = 0;
        while (k < 4 && v != 0 && v % 1024 == 0) {
            v /= 1024;
            k++;
        }
        snprintf(buf, len, "%" PRId64 "%s", v, sfx[k]);
    } else if (o->type == CN_CONF_DURATION) {
        if (v != 0 && v % 60000 == 0)
            snprintf(buf, len, "%" PRId64 "m", v / 60000);
        else if (v != 0 && v % 1000 == 0)
            snprintf(buf, len, "%" PRId64 "s", v / 1000);
        else
            snprintf(buf, len, "%" PRId64 "ms", v);
    } else {
        snprintf(buf, len, "%" PRId64, v);
    }
}

void cn_config_print_help(const struct cn_config_table *table, FILE *out)
{
    fprintf(out, "Usage: %s [OPTIONS]%s%s\n", prog(table), table->args_usage ? " " : "",
            table->args_usage ? table->args_usage : "");
    if (table->summary)
        fprintf(out, "%s\n", table->summary);
    fprintf(out, "\nOptions (--name VALUE or --name=VALUE; flags override the config file):\n");
    for (size_t i = 0; i < table->n_options; i++) {
        const struct cn_config_option *o = &table->options[i];
        char bounds[96] = "";
        if ((o->type == CN_CONF_INT || o->type == CN_CONF_SIZE || o->type == CN_CONF_DURATION) &&
            !(o->min == 0 && o->max == 0)) {
            char lo[32], hi[32];
            format_bound(o, o->min, lo, sizeof(lo));
            format_bound(o, o->max, hi, sizeof(hi));
            snprintf(bounds, sizeof(bounds), ", range %s..%s", lo, hi);
        }
        const char *def = o->default_value ? o->default_value : "";
        const char *quote = o->type == CN_CONF_STRING || o->type == CN_CONF_LIST ? "\"" : "";
        if (o->type == CN_CONF_BOOL)
            fprintf(out, "  --%s, --no-%s\n", o->name, o->name);
        else
            fprintf(out, "  --%s <%s>\n", o->name, type_names[o->type]);
        fprintf(out, "      %s (default: %s%s%s%s)\n", o->help ? o->help : "", quote, def, quote,
                bounds);
    }
    fprintf(out, "  --config <file>\n      read 'name = value' lines from file first\n");
    fprintf(out, "  --help\n      print this help and exit\n");
}
