/* The second C layout oracle: the generator's corpus laid out with the Mach types of the system's own
 * <mach/message.h> (mach2's approach, every descriptor kind included) - Apple's header on macOS, src/native's (the
 * header C peers of the native libSystem include) elsewhere. */
#include <mach/message.h>

#include "layout_corpus.h"
