/* cairn-gateway: the Cairn S3 gateway. Not built yet: this entry point says so and
 * exits non-zero rather than pretending to work (issue #5 fills it in). */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: cairn-gateway [options]\n\n"
                   "The Cairn S3 gateway. Not implemented yet (issue #5).\n");
            return 0;
        }
    }
    fprintf(stderr, "cairn-gateway: not implemented yet (issue #5); see --help\n");
    return 2;
}
