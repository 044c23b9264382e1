/*
 * reader_image.c -- recorded memory images, for testing the frame walker
 * on every Python version without a live process.
 */
#include "proc/reader_image.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "STHIMG1\n"
#define MAX_RECORD (1u << 24)
#define MAX_RECORDS (1u << 20)

struct record {
    uint64_t addr;
    uint32_t len;
    uint8_t *data;
};

struct image {
    struct record *v;
    size_t n, cap;
    struct reader *inner;           /* when recording */
};

struct image *image_new(void)
{
    return calloc(1, sizeof(struct image));
}

void image_free(struct image *img)
{
    if (!img)
        return;
    for (size_t i = 0; i < img->n; i++)
        free(img->v[i].data);
    free(img->v);
    free(img);
}

static int add(struct image *img, uint64_t addr, const void *data, size_t len)
{
    if (img->n == img->cap) {
        size_t ncap = img->cap ? img->cap * 2 : 64;
        struct record *nv = realloc(img->v, ncap * sizeof *nv);
        if (!nv)
            return -1;
        img->v = nv;
        img->cap = ncap;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return -1;
    memcpy(copy, data, len);
    img->v[img->n++] = (struct record){ addr, (uint32_t)len, copy };
    return 0;
}

static int image_read(void *ctx, uint64_t addr, void *dst, size_t len)
{
    struct image *img = ctx;
    for (size_t i = img->n; i-- > 0;) {         /* newest first */
        const struct record *r = &img->v[i];
        if (addr >= r->addr && addr - r->addr <= r->len && len <= r->len - (addr - r->addr)) {
            memcpy(dst, r->data + (addr - r->addr), len);
            return 0;
        }
    }
    errno = EFAULT;
    return -1;
}

static int recording_read(void *ctx, uint64_t addr, void *dst, size_t len)
{
    struct image *img = ctx;
    if (reader_read(img->inner, addr, dst, len) < 0)
        return -1;
    if (len <= MAX_RECORD && img->n < MAX_RECORDS)
        add(img, addr, dst, len);
    return 0;
}

struct reader reader_image(struct image *img)
{
    return (struct reader){ .read = image_read, .ctx = img };
}

struct reader reader_recording(struct image *img, struct reader *inner)
{
    img->inner = inner;
    return (struct reader){ .read = recording_read, .ctx = img };
}

int image_save(const struct image *img, const struct image_meta *m, const char *path)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int32_t ints[4] = { m->pid, m->major, m->minor, m->micro };
    uint64_t addrs[2] = { m->runtime, m->code_type };
    int ok = fwrite(MAGIC, 8, 1, f) == 1 && fwrite(ints, sizeof ints, 1, f) == 1 &&
             fwrite(addrs, sizeof addrs, 1, f) == 1;
    for (size_t i = 0; ok && i < img->n; i++) {
        const struct record *r = &img->v[i];
        ok = fwrite(&r->addr, 8, 1, f) == 1 && fwrite(&r->len, 4, 1, f) == 1 &&
             (r->len == 0 || fwrite(r->data, r->len, 1, f) == 1);
    }
    if (fclose(f) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

struct image *image_load(const char *path, struct image_meta *m)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct image *img = image_new();
    char magic[8];
    int32_t ints[4];
    uint64_t addrs[2];
    if (!img || fread(magic, 8, 1, f) != 1 || memcmp(magic, MAGIC, 8) != 0 ||
        fread(ints, sizeof ints, 1, f) != 1 || fread(addrs, sizeof addrs, 1, f) != 1)
        goto bad;
    *m = (struct image_meta){ ints[0], ints[1], ints[2], ints[3], addrs[0], addrs[1] };
    for (;;) {
        uint64_t addr;
        uint32_t len;
        size_t got = fread(&addr, 8, 1, f);
        if (got == 0 && feof(f))
            break;
        if (got != 1 || fread(&len, 4, 1, f) != 1 || len > MAX_RECORD || img->n >= MAX_RECORDS)
            goto bad;
        uint8_t *buf = malloc(len ? len : 1);
        if (!buf || (len && fread(buf, len, 1, f) != 1)) {
            free(buf);
            goto bad;
        }
        if (add(img, addr, buf, len) < 0) {
            free(buf);
            goto bad;
        }
        free(buf);
    }
    fclose(f);
    return img;
bad:
    fclose(f);
    image_free(img);
    errno = EINVAL;
    return NULL;
}
