/* Showing text in validation-test failures: numbered excerpts of a target around a line, and a bounded
 * unified diff (equals, deterministic). Pure; see validate.h.
 * Not for: deciding whether an assertion passed (validate_assert.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/validate/validate.h"

int validate_line_of(const char *text, size_t off)
{
    int line = 1;
    for (size_t i = 0; i < off; i++)
        if (text[i] == '\n') line++;
    return line;
}

/* One line's start and length (without its newline). */
struct line {
    const char *s;
    size_t n;
};

/* Splits text into lines (a trailing newline ends the last line, it does not start an empty one). */
static struct line *split(const char *text, size_t len, size_t *count)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\n') n++;
    if (len && text[len - 1] != '\n') n++;
    struct line *l = calloc(n ? n : 1, sizeof(*l));
    if (!l) return NULL;
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= len && k < n; i++) {
        if (i == len || text[i] == '\n') {
            l[k++] = (struct line){text + start, i - start};
            start = i + 1;
        }
    }
    *count = n;
    return l;
}

static void put_line(struct buf *out, char lead, const struct line *l)
{
    size_t n = l->n > VALIDATE_LINE_MAX ? VALIDATE_LINE_MAX : l->n;
    if (lead) buf_putc(out, lead);
    buf_append(out, l->s, n);
    if (n < l->n) buf_puts(out, "...");
    buf_putc(out, '\n');
}

void validate_excerpt(const char *text, size_t len, int from, int to, int mark, struct buf *out)
{
    size_t n;
    struct line *l = split(text, len, &n);
    if (!l) return;
    if (from < 1) from = 1;
    if (to > (int)n) to = (int)n;
    for (int i = from; i <= to; i++) {
        buf_printf(out, " %c%4d | ", i == mark ? '>' : ' ', i);
        put_line(out, 0, &l[i - 1]);
    }
    free(l);
}

static int same(const struct line *a, const struct line *b) { return a->n == b->n && !memcmp(a->s, b->s, a->n); }

/* Edit script of the middle parts: ops[k] is ' ' (both), '-' (a only) or '+' (b only). */
static char *middle_script(const struct line *a, size_t na, const struct line *b, size_t nb, size_t *nops)
{
    char *ops = malloc(na + nb + 1);
    if (!ops) return NULL;
    size_t k = 0;
    uint32_t *t = NULL;
    if (na && nb && (uint64_t)(na + 1) * (nb + 1) <= VALIDATE_DIFF_CELLS_MAX)
        t = calloc((na + 1) * (nb + 1), sizeof(*t));
    if (!t) {   /* too large to match up (or nothing to match): all removed, then all added */
        memset(ops, '-', na);
        memset(ops + na, '+', nb);
        *nops = na + nb;
        return ops;
    }
    /* t[i][j]: longest common subsequence of a[i..] and b[j..] */
    for (size_t i = na; i-- > 0;)
        for (size_t j = nb; j-- > 0;)
            t[i * (nb + 1) + j] = same(&a[i], &b[j]) ? t[(i + 1) * (nb + 1) + j + 1] + 1
                                  : t[(i + 1) * (nb + 1) + j] >= t[i * (nb + 1) + j + 1] ? t[(i + 1) * (nb + 1) + j]
                                                                                        : t[i * (nb + 1) + j + 1];
    size_t i = 0, j = 0;
    while (i < na || j < nb) {
        if (i < na && j < nb && same(&a[i], &b[j])) {
            ops[k++] = ' ';
            i++, j++;
        } else if (i < na && (j == nb || t[(i + 1) * (nb + 1) + j] >= t[i * (nb + 1) + j + 1])) {
            ops[k++] = '-';   /* on a tie removals first, as diff -u shows them */
            i++;
        } else {
            ops[k++] = '+';
            j++;
        }
    }
    free(t);
    *nops = k;
    return ops;
}

int validate_diff(const char *a, size_t alen, const char *a_name, const char *b, size_t blen, const char *b_name,
                  struct buf *out)
{
    size_t na, nb;
    struct line *la = split(a, alen, &na), *lb = split(b, blen, &nb);
    int rc = -1;
    if (!la || !lb) goto done;
    size_t head = 0, tail = 0;
    while (head < na && head < nb && same(&la[head], &lb[head])) head++;
    while (tail < na - head && tail < nb - head && same(&la[na - 1 - tail], &lb[nb - 1 - tail])) tail++;
    int ends_a = alen && a[alen - 1] == '\n', ends_b = blen && b[blen - 1] == '\n';
    if (head == na && head == nb && ends_a == ends_b) {
        rc = 0;
        goto done;
    }
    size_t nops;
    char *ops = middle_script(la + head, na - head - tail, lb + head, nb - head - tail, &nops);
    if (!ops) goto done;
    const size_t ctx = VALIDATE_CONTEXT_LINES + 1;
    size_t before = head < ctx ? head : ctx, after = tail < ctx ? tail : ctx;
    size_t a0 = head - before, b0 = head - before;
    size_t acount = before + (na - head - tail) + after, bcount = before + (nb - head - tail) + after;
    buf_printf(out, "--- %s\n+++ %s\n@@ -%zu,%zu +%zu,%zu @@\n", a_name, b_name, acount ? a0 + 1 : a0, acount,
               bcount ? b0 + 1 : b0, bcount);
    size_t shown = 0, total = before + nops + after, ia = head, ib = head;
    for (size_t i = a0; i < head && shown < VALIDATE_DIFF_LINES_MAX; i++, shown++) put_line(out, ' ', &la[i]);
    for (size_t k = 0; k < nops && shown < VALIDATE_DIFF_LINES_MAX; k++, shown++) {
        if (ops[k] == ' ') put_line(out, ' ', &la[ia++]), ib++;
        else if (ops[k] == '-') put_line(out, '-', &la[ia++]);
        else put_line(out, '+', &lb[ib++]);
    }
    for (size_t i = 0; i < after && shown < VALIDATE_DIFF_LINES_MAX; i++, shown++)
        put_line(out, ' ', &la[na - tail + i]);
    if (shown < total) buf_printf(out, "... %zu more diff lines\n", total - shown);
    if (ends_a != ends_b) buf_printf(out, "(%s %s with a newline, %s %s)\n", a_name, ends_a ? "ends" : "does not end",
                                     b_name, ends_b ? "does" : "does not");
    free(ops);
    rc = out->oom ? -1 : 0;
done:
    free(la);
    free(lb);
    return rc;
}
