/* `verify`: CRC32C per region on the primary and on every connected peer; answers checkedBytes and the
 * mismatching regions per peer. */
#ifndef HW_VERIFY_H
#define HW_VERIFY_H
#include "common.h"
#include "json.h"

struct volume;
int volume_verify(struct volume *v, struct sbuf *out, struct hw_err *err);
#endif
