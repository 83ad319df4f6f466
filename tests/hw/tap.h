/* TAP output for the platform tests: "ok - what" or "not ok - what". */
#ifndef LGUEST_TESTS_HW_TAP_H
#define LGUEST_TESTS_HW_TAP_H

#include <stdio.h>

static int tap_failed;

#define CHECK(cond, ...)						\
	do {								\
		bool ok_ = (cond);					\
		printf("%s - ", ok_ ? "ok" : "not ok");			\
		printf(__VA_ARGS__);					\
		if (!ok_) {						\
			printf(" (%s:%d: %s)", __FILE__, __LINE__, #cond); \
			tap_failed++;					\
		}							\
		printf("\n");						\
		fflush(stdout);						\
	} while (0)

#define CHECK_EQ(got, want, ...)					\
	do {								\
		unsigned long long g_ = (got), w_ = (want);		\
		bool ok_ = g_ == w_;					\
		printf("%s - ", ok_ ? "ok" : "not ok");			\
		printf(__VA_ARGS__);					\
		if (!ok_) {						\
			printf(" (got %#llx, want %#llx, line %d)", g_,	\
			       w_, __LINE__);				\
			tap_failed++;					\
		}							\
		printf("\n");						\
		fflush(stdout);						\
	} while (0)

#endif
