/* JSON output helpers shared by vmm (policy audit) and vmm-ctl. */
#ifndef VMM_COMMON_JSON_H
#define VMM_COMMON_JSON_H

#include <stdio.h>

/* Writes s as a JSON string, escaped; NULL as null; bytes that are not UTF-8 as U+FFFD. */
void json_string(FILE *out, const char *s);

#endif
