"""A model's next assistant turn as it is generated, piece by piece (no Django import).

The batch backends (generation/backends) answer whole chunks; a live conversation wants the words as they come.
A transformers model streams through transformers' TextIteratorStreamer (generate runs in a thread, the text is
read as it decodes); any other backend answers whole and is yielded once. Same decoding, seeding and stop tokens
(EOS and LIMA's EOT) as the batch path, since the loaded backend is the one `get_backend` caches.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from generation.backends import BackendConfig, BackendError, get_backend, messages_of
from generation.decoding import Decoding


def stream_reply(config: BackendConfig, conversation: list[str], decoding: Decoding, seed: int) -> Iterator[str]:
    """Yield the reply so far (growing text) until it is complete; raises BackendError when it cannot be made."""
    backend = get_backend(config)
    if config.backend != "transformers":
        result = backend.generate([conversation], decoding, seed=seed)[0]
        if result.error:
            raise BackendError(result.error)
        yield result.text
        return
    yield from _stream_transformers(backend, conversation, decoding, seed)


def _stream_transformers(backend, conversation: list[str], decoding: Decoding, seed: int) -> Iterator[str]:
    import torch
    from transformers import TextIteratorStreamer

    ids = backend.tokenizer.apply_chat_template(messages_of(conversation), tokenize=True, return_dict=False)
    if len(ids) >= backend.context:
        raise BackendError(f"the conversation is {len(ids):,} tokens; the model's context is {backend.context:,}")
    streamer = TextIteratorStreamer(backend.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600)
    failure: list[BaseException] = []

    def generate() -> None:
        try:
            torch.manual_seed(seed)
            with torch.no_grad():
                backend.model.generate(
                    input_ids=torch.tensor([ids], device=backend.device),
                    attention_mask=torch.ones((1, len(ids)), dtype=torch.long, device=backend.device),
                    do_sample=decoding.temperature > 0, temperature=decoding.temperature if decoding.temperature > 0 else None,
                    top_p=decoding.top_p, repetition_penalty=decoding.repetition_penalty,
                    max_new_tokens=min(decoding.max_new_tokens, backend.context - len(ids)),
                    eos_token_id=backend.stop_ids, pad_token_id=backend.tokenizer.pad_token_id, streamer=streamer,
                )
        except BaseException as exc:  # surfaced to the reader below, never lost in the thread
            failure.append(exc)
            streamer.end()

    thread = threading.Thread(target=generate, daemon=True)
    thread.start()
    text = ""
    for piece in streamer:
        text += piece
        yield text.strip()
    thread.join()
    if failure:
        raise BackendError(f"generation failed: {failure[0]!r}")
    yield text.strip()
