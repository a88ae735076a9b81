/* cairn-chunk: the Cairn chunkserver. Not built yet: this entry point says so and
 * exits non-zero rather than pretending to work (issue #4 fills it in). */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: cairn-chunk [options]\n\n"
                   "The Cairn chunkserver. Not implemented yet (issue #4).\n");
            return 0;
        }
    }
    fprintf(stderr, "cairn-chunk: not implemented yet (issue #4); see --help\n");
    return 2;
}
