/* cairn-meta: the Cairn metadata service replica. Not built yet: this entry point says so and
 * exits non-zero rather than pretending to work (issue #3 fills it in). */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: cairn-meta [options]\n\n"
                   "The Cairn metadata service replica. Not implemented yet (issue #3).\n");
            return 0;
        }
    }
    fprintf(stderr, "cairn-meta: not implemented yet (issue #3); see --help\n");
    return 2;
}
