#include "verify.h"

#include "volume.h"

int volume_verify(struct volume *v, struct sbuf *out, struct hw_err *err) {
  (void)out;
  hw_err_set(err, "UNIMPLEMENTED", "NotImplemented", "volume %s: verify is not in this build yet", v->name);
  return -1;
}
