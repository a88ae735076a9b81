/* cairn: the Cairn admin tool. Not built yet: this entry point says so and
 * exits non-zero rather than pretending to work (issue #6 fills it in). */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: cairn [options]\n\n"
                   "The Cairn admin tool. Not implemented yet (issue #6).\n");
            return 0;
        }
    }
    fprintf(stderr, "cairn: not implemented yet (issue #6); see --help\n");
    return 2;
}
