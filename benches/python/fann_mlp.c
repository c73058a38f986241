/* The book's network trained by FANN 2.2 (libfann-dev), for compare.py: fann_mlp.py writes
 * the MNIST arrays to raw files, builds this driver and runs it.
 *
 *   fann_mlp DIR SIZES EPOCHS BATCH ETA SEED per-example|batch
 *
 * DIR holds train_x.bin (n x 784 fann_type, row after row), train_y.bin (n bytes) and
 * test_x.bin (n_test x 784 fann_type); SIZES is e.g. 784,30,10. Sigmoid layers (FANN_SIGMOID at steepness 0.5 is
 * 1/(1+e^-z)), the quadratic cost's error (FANN_ERRORFUNC_LINEAR, not FANN's default tanh
 * error), no momentum. "per-example" is FANN's incremental training (fann_train on each
 * example: w -= eta * gradient); "batch" is FANN's batch training (fann_train_epoch with
 * FANN_TRAIN_BATCH) on each mini-batch in turn, whose update is w -= (eta/m) * sum of the
 * gradients, network.py's. Each epoch shuffles an index (SplitMix64, Fisher-Yates) and hands
 * FANN the examples through pointers in that order: FANN reads its data through pointers
 * anyway, so the shuffle moves no pixels.
 *
 * Prints one line per epoch on stdout: the epoch's SECONDS, covering the shuffle and the
 * training (CLOCK_MONOTONIC), not the test evaluation, then the class the network gives each
 * test image. Built with -DDOUBLE it
 * trains in doubles (doublefann), otherwise in floats (floatfann). */
#ifdef DOUBLE
#include <doublefann.h>
#else
#include <floatfann.h>
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void die(const char *what, const char *detail) {
    fprintf(stderr, "fann_mlp: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(2);
}

/* The whole file `dir/name`, which must hold exactly `bytes` bytes. */
static void *read_exactly(const char *dir, const char *name, size_t bytes) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open", path);
    void *data = malloc(bytes ? bytes : 1);
    if (!data) die("out of memory reading", path);
    if (fread(data, 1, bytes, f) != bytes || fgetc(f) != EOF) die("not the expected size", path);
    fclose(f);
    return data;
}

static size_t file_size(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0) die("cannot open", path);
    long n = ftell(f);
    fclose(f);
    return (size_t)n;
}

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* Prints the class the network gives each of the n examples of x (row after row): the
 * output neuron with the largest activation. */
static void print_predictions(struct fann *ann, const fann_type *x, size_t n, unsigned inputs,
                              unsigned outputs) {
    for (size_t i = 0; i < n; i++) {
        fann_type *a = fann_run(ann, (fann_type *)(x + i * inputs));
        unsigned best = 0;
        for (unsigned j = 1; j < outputs; j++)
            if (a[j] > a[best]) best = j;
        printf(" %u", best);
    }
}

int main(int argc, char **argv) {
    if (argc != 8) die("usage: fann_mlp DIR SIZES EPOCHS BATCH ETA SEED per-example|batch", NULL);
    const char *dir = argv[1];
    unsigned sizes[64], layers = 0;
    for (char *s = strtok(argv[2], ","); s; s = strtok(NULL, ",")) {
        if (layers == 64 || atoi(s) <= 0) die("bad sizes", argv[2]);
        sizes[layers++] = (unsigned)atoi(s);
    }
    int epochs = atoi(argv[3]), batch = atoi(argv[4]);
    float eta = (float)atof(argv[5]);
    uint64_t seed = strtoull(argv[6], NULL, 10);
    int per_example = strcmp(argv[7], "per-example") == 0;
    if (layers < 2 || epochs <= 0 || batch <= 0 || (!per_example && strcmp(argv[7], "batch")))
        die("bad arguments", NULL);
    unsigned inputs = sizes[0], outputs = sizes[layers - 1];

    size_t n = file_size(dir, "train_y.bin"), n_test = file_size(dir, "test_x.bin") / inputs / sizeof(fann_type);
    fann_type *x = read_exactly(dir, "train_x.bin", n * inputs * sizeof(fann_type));
    uint8_t *y = read_exactly(dir, "train_y.bin", n);
    fann_type *x_test = read_exactly(dir, "test_x.bin", n_test * inputs * sizeof(fann_type));
    for (size_t i = 0; i < n; i++)
        if (y[i] >= outputs) die("a label is not below the output layer's size", NULL);

    /* One desired-output vector per class, and the examples' pointers in shuffled order. */
    fann_type *one_hot = calloc((size_t)outputs * outputs, sizeof(fann_type));
    size_t *order = malloc(n * sizeof *order);
    fann_type **in = malloc(n * sizeof *in), **out = malloc(n * sizeof *out);
    if (!one_hot || !order || !in || !out) die("out of memory", NULL);
    for (unsigned c = 0; c < outputs; c++) one_hot[c * outputs + c] = 1;
    for (size_t i = 0; i < n; i++) order[i] = i;

    struct fann *ann = fann_create_standard_array(layers, sizes);
    if (!ann) die("fann_create_standard_array failed", NULL);
    fann_set_activation_function_hidden(ann, FANN_SIGMOID);
    fann_set_activation_function_output(ann, FANN_SIGMOID);
    fann_set_activation_steepness_hidden(ann, 0.5);
    fann_set_activation_steepness_output(ann, 0.5);
    fann_set_train_error_function(ann, FANN_ERRORFUNC_LINEAR);
    fann_set_learning_momentum(ann, 0);
    fann_set_learning_rate(ann, eta);
    fann_set_training_algorithm(ann, per_example ? FANN_TRAIN_INCREMENTAL : FANN_TRAIN_BATCH);
    srand((unsigned)seed);
    fann_randomize_weights(ann, -1, 1);

    uint64_t rng = seed;
    for (int epoch = 0; epoch < epochs; epoch++) {
        double start = now();
        for (size_t i = n; i > 1; i--) {
            size_t j = splitmix64(&rng) % i, t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        for (size_t i = 0; i < n; i++) {
            in[i] = x + order[i] * inputs;
            out[i] = one_hot + (size_t)y[order[i]] * outputs;
        }
        if (per_example) {
            for (size_t i = 0; i < n; i++) fann_train(ann, in[i], out[i]);
        } else {
            for (size_t k = 0; k < n; k += (size_t)batch) {
                struct fann_train_data view = {
                    .errno_f = FANN_E_NO_ERROR,
                    .num_data = (unsigned)(n - k < (size_t)batch ? n - k : (size_t)batch),
                    .num_input = inputs,
                    .num_output = outputs,
                    .input = in + k,
                    .output = out + k,
                };
                fann_train_epoch(ann, &view);
            }
        }
        double seconds = now() - start;
        if (fann_get_errno((struct fann_error *)ann) != FANN_E_NO_ERROR) die("FANN failed", fann_get_errstr((struct fann_error *)ann));
        printf("%.6f", seconds);
        print_predictions(ann, x_test, n_test, inputs, outputs);
        printf("\n");
        fflush(stdout);
    }
    fann_destroy(ann);
    return 0;
}
