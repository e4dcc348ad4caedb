#ifndef GIT_GRAD_CLIBGIT2_SHIM_H
#define GIT_GRAD_CLIBGIT2_SHIM_H

#include <git2.h>

/* git_libgit2_opts is variadic, which Swift cannot call: this wrapper fixes its arguments. */

static inline int git_grad_opts_enable_strict_object_creation(int enabled) {
    return git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, enabled);
}

#endif
