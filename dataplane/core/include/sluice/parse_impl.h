/* placeholder: the parser steps arrive in the next commit */
#ifndef SLUICE_PARSE_IMPL_H
#define SLUICE_PARSE_IMPL_H
#endif
