/* The discovery role's target set: only Running + Ready pods with an IP count, a deleted, unready,
 * terminating or IP-less pod leaves the set, a changed IP is republished, the set is sorted by name whatever
 * the event order, an unchanged set is not republished, and fixed endpoints are part of it. */
#include <stdio.h>
#include <string.h>

#include "common/config/config.h"
#include "tests/unit/unit.h"
#include "workers/discovery/targets.h"

static struct json_object *pod(const char *name, const char *phase, const char *ready, const char *ip)
{
    char buf[1024];
    snprintf(buf, sizeof(buf),
             "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"ns\",\"resourceVersion\":\"1\"},"
             "\"status\":{\"phase\":\"%s\",\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"True\"},"
             "{\"type\":\"Ready\",\"status\":\"%s\"}]%s%s%s}}",
             name, phase, ready, ip ? ",\"podIP\":\"" : "", ip ? ip : "", ip ? "\"" : "");
    struct json_object *o = json_tokener_parse(buf);
    ck_assert_ptr_nonnull(o);
    return o;
}

/* Applies and frees the pod. */
static void update(struct targets *t, struct json_object *p)
{
    ck_assert_int_eq(targets_pod_update(t, p), 0);
    json_object_put(p);
}

static void delete(struct targets *t, struct json_object *p)
{
    targets_pod_delete(t, p);
    json_object_put(p);
}

/* The published JSON as a string ("" when unchanged), for comparisons. */
static char published[4096];
static const char *take(struct targets *t)
{
    struct json_object *j = targets_take_changed(t);
    published[0] = '\0';
    if (j) snprintf(published, sizeof(published), "%s", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(j);
    return published;
}

START_TEST(test_discovery_only_running_ready_pods_with_an_ip_count)
{
    struct targets t;
    targets_init(&t, 5555);
    update(&t, pod("a", "Running", "True", "10.0.0.1"));
    update(&t, pod("b", "Running", "False", "10.0.0.2"));
    update(&t, pod("c", "Pending", "True", "10.0.0.3"));
    update(&t, pod("d", "Running", "True", NULL));
    update(&t, pod("e", "Succeeded", "False", "10.0.0.5"));
    ck_assert_str_eq(take(&t), "[{\"name\":\"a\",\"namespace\":\"ns\",\"pod\":\"a\",\"address\":\"10.0.0.1\","
                               "\"port\":5555,\"kind\":\"pod\"}]");
    targets_free(&t);
}
END_TEST

START_TEST(test_discovery_terminating_or_conditionless_pods_do_not_count)
{
    struct json_object *p = pod("a", "Running", "True", "10.0.0.1");
    ck_assert_int_eq(targets_pod_is_ready(p), 1);
    struct json_object *md;
    json_object_object_get_ex(p, "metadata", &md);
    json_object_object_add(md, "deletionTimestamp", json_object_new_string("2024-01-01T00:00:00Z"));
    ck_assert_int_eq(targets_pod_is_ready(p), 0);
    json_object_put(p);
    struct json_object *q = json_tokener_parse("{\"metadata\":{\"name\":\"q\"},\"status\":{\"phase\":\"Running\","
                                               "\"podIP\":\"10.0.0.9\"}}");
    ck_assert_int_eq(targets_pod_is_ready(q), 0);
    json_object_put(q);
}
END_TEST

START_TEST(test_discovery_pod_leaves_the_set_when_unready_or_deleted)
{
    struct targets t;
    targets_init(&t, 5555);
    update(&t, pod("a", "Running", "True", "10.0.0.1"));
    update(&t, pod("b", "Running", "True", "10.0.0.2"));
    ck_assert_uint_eq(targets_count(&t, TARGET_POD), 2);
    take(&t);
    update(&t, pod("a", "Running", "False", "10.0.0.1"));
    ck_assert_uint_eq(targets_count(&t, TARGET_POD), 1);
    ck_assert_ptr_nonnull(strstr(take(&t), "\"name\":\"b\""));
    ck_assert_ptr_null(strstr(published, "\"name\":\"a\""));
    delete(&t, pod("b", "Running", "True", "10.0.0.2"));
    ck_assert_str_eq(take(&t), "[]");
    /* deleting what is not there changes nothing */
    delete(&t, pod("zz", "Running", "True", "10.0.0.7"));
    ck_assert_str_eq(take(&t), "");
    targets_free(&t);
}
END_TEST

START_TEST(test_discovery_changed_ip_is_republished)
{
    struct targets t;
    targets_init(&t, 8080);
    update(&t, pod("a", "Running", "True", "10.0.0.1"));
    ck_assert_ptr_nonnull(strstr(take(&t), "10.0.0.1"));
    update(&t, pod("a", "Running", "True", "10.0.0.99"));
    ck_assert_ptr_nonnull(strstr(take(&t), "\"address\":\"10.0.0.99\",\"port\":8080"));
    ck_assert_uint_eq(targets_count(&t, TARGET_POD), 1);
    targets_free(&t);
}
END_TEST

START_TEST(test_discovery_unchanged_set_is_not_republished)
{
    struct targets t;
    targets_init(&t, 5555);
    ck_assert_str_eq(take(&t), "[]"); /* the first publication happens even when empty */
    ck_assert_str_eq(take(&t), "");
    update(&t, pod("a", "Running", "True", "10.0.0.1"));
    ck_assert_str_ne(take(&t), "");
    /* a new resourceVersion with the same phase, readiness and IP, and a not-ready pod coming and going */
    update(&t, pod("a", "Running", "True", "10.0.0.1"));
    update(&t, pod("x", "Pending", "False", NULL));
    delete(&t, pod("x", "Pending", "False", NULL));
    ck_assert_str_eq(take(&t), "");
    targets_free(&t);
}
END_TEST

START_TEST(test_discovery_set_is_sorted_whatever_the_event_order)
{
    const char *names[] = {"c", "a", "d", "b"};
    char first[4096] = "";
    for (int round = 0; round < 4; round++) {
        struct targets t;
        targets_init(&t, 5555);
        for (int i = 0; i < 4; i++) {
            const char *n = names[(i + round) % 4];
            char ip[32];
            snprintf(ip, sizeof(ip), "10.0.0.%c", n[0]);
            update(&t, pod(n, "Running", "True", ip));
        }
        take(&t);
        if (round == 0) {
            snprintf(first, sizeof(first), "%s", published);
            const char *a = strstr(first, "\"a\""), *b = strstr(first, "\"b\""), *c = strstr(first, "\"c\""),
                       *d = strstr(first, "\"d\"");
            ck_assert(a && b && c && d && a < b && b < c && c < d);
        } else {
            ck_assert_str_eq(published, first);
        }
        targets_free(&t);
    }
}
END_TEST

START_TEST(test_discovery_static_endpoints_join_the_set)
{
    struct config_endpoint eps[] = {{.name = "zeta", .url = "http://10.1.0.1:5555"},
                                    {.name = "local", .master_socket = "/run/haproxy-master.sock"}};
    struct targets t;
    targets_init(&t, 5555);
    ck_assert_int_eq(targets_add_static(&t, eps, 2), 0);
    update(&t, pod("m", "Running", "True", "10.0.0.1"));
    ck_assert_str_eq(take(&t),
                     "[{\"name\":\"local\",\"kind\":\"static\",\"master_socket\":\"/run/haproxy-master.sock\"},"
                     "{\"name\":\"m\",\"namespace\":\"ns\",\"pod\":\"m\",\"address\":\"10.0.0.1\",\"port\":5555,"
                     "\"kind\":\"pod\"},{\"name\":\"zeta\",\"kind\":\"static\",\"url\":\"http://10.1.0.1:5555\"}]");
    /* a pod named like a static endpoint is a different target */
    update(&t, pod("local", "Running", "True", "10.0.0.2"));
    ck_assert_uint_eq(targets_count(&t, TARGET_POD), 2);
    ck_assert_uint_eq(targets_count(&t, TARGET_STATIC), 2);
    delete(&t, pod("local", "Running", "True", "10.0.0.2"));
    ck_assert_uint_eq(targets_count(&t, TARGET_STATIC), 2);
    targets_free(&t);
}
END_TEST

START_TEST(test_discovery_pod_without_name_is_refused)
{
    struct targets t;
    targets_init(&t, 5555);
    struct json_object *p = json_tokener_parse("{\"metadata\":{},\"status\":{\"phase\":\"Running\"}}");
    ck_assert_int_eq(targets_pod_update(&t, p), -1);
    json_object_put(p);
    ck_assert_uint_eq(t.len, 0);
    targets_free(&t);
}
END_TEST

Suite *suite_under_test(void)
{
    Suite *s = suite_create("discovery_targets");
    TCase *tc = tcase_create("targets");
    tcase_add_test(tc, test_discovery_only_running_ready_pods_with_an_ip_count);
    tcase_add_test(tc, test_discovery_terminating_or_conditionless_pods_do_not_count);
    tcase_add_test(tc, test_discovery_pod_leaves_the_set_when_unready_or_deleted);
    tcase_add_test(tc, test_discovery_changed_ip_is_republished);
    tcase_add_test(tc, test_discovery_unchanged_set_is_not_republished);
    tcase_add_test(tc, test_discovery_set_is_sorted_whatever_the_event_order);
    tcase_add_test(tc, test_discovery_static_endpoints_join_the_set);
    tcase_add_test(tc, test_discovery_pod_without_name_is_refused);
    suite_add_tcase(s, tc);
    return s;
}
