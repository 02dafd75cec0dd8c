/* Strict syntax check of an HTTP/1.1 request head (request line and header lines, RFC 9112 sections 2-5),
 * fed the received bytes ahead of http-parser. Debian's libhttp-parser is built in its lenient mode and takes
 * HTTP/2.0 and HTTP/0.9 request lines, spaces in header names, obs-fold and bare LF line ends; a server
 * that reads a head differently from a proxy in front of it can be fooled (request smuggling), so we refuse
 * them. Not a parser: it keeps no names or values, only how far the head is well formed. */
#ifndef HTIC_HTTP_HEAD_H
#define HTIC_HTTP_HEAD_H

#include <stddef.h>

struct http_head_check {
    int state;  /* private */
    int count;  /* private: bytes in the current token */
    char major; /* private: the version's major digit */
};

void http_head_check_init(struct http_head_check *h);
/* Feeds the next n bytes of a request. Returns 0 while the head is well formed so far or complete (bytes
 * after its end are not looked at), 400 for a malformed head, 505 for an HTTP version other than 1.x;
 * after a refusal the request is answered and the connection closed, so the check is not fed again. */
int http_head_check_feed(struct http_head_check *h, const char *p, size_t n);
/* 1 once the empty line that ends the head has been seen. */
int http_head_check_done(const struct http_head_check *h);

#endif
