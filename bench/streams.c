// How fast this machine's cores read memory from one place at a time against several: the measurement behind
// MatrixVector reading two rows at once. Each thread sums its own contiguous share of a file's pages, walking
// `streams` equal parts of that share side by side, 128 bytes from each in turn.
//
//   cc -O3 -march=native -pthread bench/streams.c -o /tmp/streams
//   /tmp/streams FILE STREAMS [THREADS] [REPETITIONS]
//
// FILE should be larger than the last-level cache (a model's weights); it is mapped and read once before timing.
// Prints one JSON object with every repetition's GB/s and their median.
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { chunkWords = 16 }; // 128 bytes: two cache lines from one stream before moving to the next

typedef struct {
    const uint64_t *share;
    size_t words;
    int streams;
    uint64_t sum;
} Reader;

static void *readShare(void *argument) {
    Reader *reader = argument;
    size_t part = reader->words / (size_t)reader->streams / chunkWords * chunkWords;
    uint64_t sum = 0;
    for (size_t offset = 0; offset < part; offset += chunkWords)
        for (int stream = 0; stream < reader->streams; stream++) {
            const uint64_t *chunk = reader->share + (size_t)stream * part + offset;
            for (int word = 0; word < chunkWords; word++) sum ^= chunk[word];
        }
    reader->sum = sum;
    return NULL;
}

static double seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

static int ascending(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s FILE STREAMS [THREADS] [REPETITIONS]\n", argv[0]);
        return 2;
    }
    int streams = atoi(argv[2]);
    int threads = argc > 3 ? atoi(argv[3]) : 2;
    int repetitions = argc > 4 ? atoi(argv[4]) : 9;
    if (streams < 1 || threads < 1 || threads > 64 || repetitions < 1 || repetitions > 1000) {
        fprintf(stderr, "streams, threads (1-64) and repetitions (1-1000) must be positive\n");
        return 2;
    }
    int file = open(argv[1], O_RDONLY);
    struct stat status;
    if (file < 0 || fstat(file, &status) != 0 || status.st_size < 1 << 20) {
        fprintf(stderr, "cannot read %s, or it is smaller than 1 MB\n", argv[1]);
        return 1;
    }
    size_t words = (size_t)status.st_size / sizeof(uint64_t);
    const uint64_t *data = mmap(NULL, words * sizeof(uint64_t), PROT_READ, MAP_SHARED, file, 0);
    if (data == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    Reader readers[64];
    pthread_t workers[64];
    double rates[1000];
    uint64_t checksum = 0;
    for (int repetition = -1; repetition < repetitions; repetition++) { // -1: untimed, brings the file into memory
        double start = seconds();
        for (int thread = 0; thread < threads; thread++) {
            size_t share = words / (size_t)threads;
            readers[thread] = (Reader){data + (size_t)thread * share, share, streams, 0};
            pthread_create(&workers[thread], NULL, readShare, &readers[thread]);
        }
        checksum = 0;
        for (int thread = 0; thread < threads; thread++) {
            pthread_join(workers[thread], NULL);
            checksum ^= readers[thread].sum;
        }
        if (repetition >= 0) rates[repetition] = (double)(words * sizeof(uint64_t)) / (seconds() - start) / 1e9;
    }
    printf("{\"file_bytes\": %zu, \"threads\": %d, \"streams_per_thread\": %d, \"gigabytes_per_second\": [",
           words * sizeof(uint64_t), threads, streams);
    for (int repetition = 0; repetition < repetitions; repetition++)
        printf("%s%.2f", repetition ? ", " : "", rates[repetition]);
    qsort(rates, (size_t)repetitions, sizeof(double), ascending);
    printf("], \"median_gigabytes_per_second\": %.2f, \"checksum\": %llu}\n", rates[repetitions / 2],
           (unsigned long long)checksum);
    return 0;
}
