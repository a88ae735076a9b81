/* Declarative configuration (in the style of redis config.c static_configs[]).
 *
 * Each daemon declares ONE table of options; each option names a target
 * variable of the matching C type. Loading applies, in this order:
 *   1. every option's default,
 *   2. the file named by `--config FILE` (if given anywhere on the command line),
 *   3. the command-line flags (so flags override the file).
 * `--help` prints a usage text generated from the table (every option, its
 * type, bounds and default) and makes cn_config_load() return CN_CONFIG_HELP.
 *
 * Command line:  --name value   or   --name=value
 *                bool options: --name (true), --no-name (false), --name=true|false
 *                (a bool never consumes the next argument).
 * Config file:   one `name = value` per line; `#` starts a comment (at the start
 *                of a line or after whitespace); blank lines ignored; values may be
 *                wrapped in double quotes to keep leading/trailing spaces or '#'.
 *                The file cannot contain `config`.
 * Value syntax per type:
 *   STRING    any text (an empty string is allowed).
 *   INT       decimal integer, optional sign; checked against [min, max].
 *   BOOL      true/false, yes/no, on/off, 1/0 (case-insensitive).
 *   SIZE      bytes with optional suffix K, M, G, T (binary: 1K = 1024) and an
 *             optional trailing B or iB: "256K", "64MiB", "1g", "4096".
 *             Checked against [min, max] in bytes.
 *   DURATION  number with unit ms, s, m or h ("250ms", "30s", "5m"); a bare
 *             number means milliseconds. Stored in milliseconds, checked
 *             against [min, max] in milliseconds.
 *   LIST      comma-separated items, whitespace around items trimmed, empty
 *             items dropped ("a:1, b:2,c:3"). The empty string gives 0 items.
 * Bounds: if min == 0 and max == 0 the value is unbounded (INT/SIZE/DURATION).
 *
 * Names use lowercase and dashes ("listen-port", "cluster-secret-file").
 *
 * Threads: loading writes the targets and must finish before other threads
 * read them. The table itself is never modified. */
#ifndef CAIRN_CN_CONFIG_H
#define CAIRN_CN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum cn_config_type {
    CN_CONF_STRING,   /* target.s:  char ** (malloc'd, owned by the config; see release) */
    CN_CONF_INT,      /* target.i:  int64_t * */
    CN_CONF_BOOL,     /* target.b:  bool * */
    CN_CONF_SIZE,     /* target.i:  int64_t * (bytes) */
    CN_CONF_DURATION, /* target.i:  int64_t * (milliseconds) */
    CN_CONF_LIST,     /* target.l:  struct cn_config_list * (owned by the config) */
};

/* Parsed LIST value. items[0..n-1] are NUL-terminated, malloc'd. */
struct cn_config_list {
    size_t n;
    char **items;
};

struct cn_config_option {
    const char *name; /* flag is --name; file key is name */
    enum cn_config_type type;
    const char *default_value; /* parsed exactly like user input; NULL means
                                  "" for STRING/LIST, and is not allowed for the
                                  other types */
    int64_t min, max;          /* bounds for INT/SIZE/DURATION; 0,0 = unbounded */
    const char *help;          /* one line, no trailing period needed */
    union {
        char **s;
        int64_t *i;
        bool *b;
        struct cn_config_list *l;
    } target;
};

/* Initializer helpers, so a table reads as a table and the compiler checks the
 * target's type:
 *   static const struct cn_config_option opts[] = {
 *       CN_CONF_OPT_INT("port", "9100", 0, 65535, "TCP port to listen on", &conf.port),
 *       CN_CONF_OPT_SIZE("conn-memory", "256K", 64 * 1024, 64 << 20, "...", &conf.mem),
 *   }; */
#define CN_CONF_OPT_STRING(n, def, hlp, ptr)                                                       \
    {                                                                                              \
        .name = (n), .type = CN_CONF_STRING, .default_value = (def), .help = (hlp),                \
        .target.s = (ptr)                                                                          \
    }
#define CN_CONF_OPT_INT(n, def, lo, hi, hlp, ptr)                                                  \
    {                                                                                              \
        .name = (n), .type = CN_CONF_INT, .default_value = (def), .min = (lo), .max = (hi),        \
        .help = (hlp), .target.i = (ptr)                                                           \
    }
#define CN_CONF_OPT_BOOL(n, def, hlp, ptr)                                                         \
    {                                                                                              \
        .name = (n), .type = CN_CONF_BOOL, .default_value = (def), .help = (hlp),                  \
        .target.b = (ptr)                                                                          \
    }
#define CN_CONF_OPT_SIZE(n, def, lo, hi, hlp, ptr)                                                 \
    {                                                                                              \
        .name = (n), .type = CN_CONF_SIZE, .default_value = (def), .min = (lo), .max = (hi),       \
        .help = (hlp), .target.i = (ptr)                                                           \
    }
#define CN_CONF_OPT_DURATION(n, def, lo, hi, hlp, ptr)                                             \
    {                                                                                              \
        .name = (n), .type = CN_CONF_DURATION, .default_value = (def), .min = (lo), .max = (hi),   \
        .help = (hlp), .target.i = (ptr)                                                           \
    }
#define CN_CONF_OPT_LIST(n, def, hlp, ptr)                                                         \
    {                                                                                              \
        .name = (n), .type = CN_CONF_LIST, .default_value = (def), .help = (hlp),                  \
        .target.l = (ptr)                                                                          \
    }

/* One daemon's whole configuration description. */
struct cn_config_table {
    const char *program;    /* "cairn-chunk", used in usage and error messages */
    const char *summary;    /* one line shown under the usage line */
    const char *args_usage; /* positional arguments for the usage line, or NULL */
    const struct cn_config_option *options;
    size_t n_options;
};

/* Returned (positive) by cn_config_load() after --help was printed. */
#define CN_CONFIG_HELP 1

/* Loads the configuration: defaults, then --config FILE, then flags (see the
 * top of this file). On error, writes a one-line message naming the option and
 * the problem ("cairn-chunk: --port: 70000 is out of range [0, 65535]") into
 * err (if errlen > 0) and returns CAIRN_E_INVAL (bad value, unknown option,
 * missing value), CAIRN_E_RANGE (out of bounds) or the file's read error.
 * `--help` prints the help text to stdout and returns CN_CONFIG_HELP.
 *
 * Positional arguments: parsing of flags stops at `--` or at the first
 * argument not starting with "--". If next_arg is NULL, such an argument is an
 * error; otherwise *next_arg receives the index of the first positional
 * argument (argc if none), and flags after it are NOT parsed (so
 * `cairn --leader X status --verbose` leaves `status --verbose` to the caller;
 * the caller may call cn_config_load() again with a sub-command table on the
 * remaining arguments, passing argv + *next_arg with argv[0] being the
 * sub-command name).
 *
 * Targets already holding strings/lists from a previous load are released
 * first. On error, targets may be partly assigned; call cn_config_release(). */
int cn_config_load(const struct cn_config_table *table, int argc, char **argv, int *next_arg,
                   char *err, size_t errlen);

/* Applies only the defaults. Same return values as cn_config_load(). */
int cn_config_set_defaults(const struct cn_config_table *table, char *err, size_t errlen);

/* Sets one option by name from its textual value (as in a file or flag).
 * Returns 0, CAIRN_E_NOTFOUND (no such option), CAIRN_E_INVAL or CAIRN_E_RANGE,
 * with a message in err. */
int cn_config_set(const struct cn_config_table *table, const char *name, const char *value,
                  char *err, size_t errlen);

/* Reads `name = value` lines from path and sets each option. Same errors as
 * cn_config_set() (message names the file and line), plus CAIRN_E_NOTFOUND /
 * CAIRN_E_IO if the file cannot be read. */
int cn_config_load_file(const struct cn_config_table *table, const char *path, char *err,
                        size_t errlen);

/* Writes the help text: usage line, summary, then one entry per option with
 * its value syntax, default and bounds, plus --config and --help. */
void cn_config_print_help(const struct cn_config_table *table, FILE *out);

/* Frees the strings and lists the config owns in the table's targets and sets
 * them to NULL / empty. Safe to call twice and on never-loaded targets that are
 * zero-initialized. */
void cn_config_release(const struct cn_config_table *table);

/* Value parsers, exposed for modules that read sizes or durations elsewhere
 * (e.g. S3 headers). Return 0 or CAIRN_E_INVAL (syntax) / CAIRN_E_RANGE
 * (overflow). */
int cn_config_parse_int(const char *text, int64_t *out);
int cn_config_parse_bool(const char *text, bool *out);
int cn_config_parse_size(const char *text, int64_t *out);
int cn_config_parse_duration_ms(const char *text, int64_t *out);

#endif
