// Swift has no prefetch instruction; this header-only module lends it clang's.
static inline void storywriter_prefetch(const void *address) { __builtin_prefetch(address, 0, 3); }
static inline void storywriter_prefetch_level2(const void *address) { __builtin_prefetch(address, 0, 2); }
