"""Times Hugging Face `tokenizers` encoding a whole manuscript, for the side-by-side in tokenizer.sh.

Reads the book as StoryWriter does (UTF-8, leading BOM dropped, CRLF -> LF) and prints one JSON object.
"""
import json
import statistics
import sys
import time

from tokenizers import Tokenizer
import tokenizers

tokenizer_path, book_path, repetitions = sys.argv[1], sys.argv[2], int(sys.argv[3])
start = time.perf_counter()
tokenizer = Tokenizer.from_file(tokenizer_path)
load_seconds = time.perf_counter() - start
text = open(book_path, "rb").read().decode("utf-8")
text = text.removeprefix("\ufeff").replace("\r\n", "\n")
seconds = []
tokens = 0
for _ in range(repetitions):
    start = time.perf_counter()
    tokens = len(tokenizer.encode(text).ids)
    seconds.append(time.perf_counter() - start)
print(json.dumps({"version": tokenizers.__version__, "bytes": len(text.encode("utf-8")), "tokens": tokens,
                  "load_seconds": round(load_seconds, 4), "encode_median_seconds": round(statistics.median(seconds), 5),
                  "encode_seconds": [round(s, 5) for s in seconds]}))
