"""LIMA's chat format (no Django import): utterances separated by a special end-of-turn token.

The paper adds an EOT token after each utterance, distinct from EOS. The trainer and every
generation backend use this one template, so a checkpoint sees at inference what it saw in training.
"""

EOT_TOKEN = "<|eot|>"
BOS_TOKEN = "<s>"
EOS_TOKEN = "</s>"
PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"
SPECIAL_TOKENS = [UNK_TOKEN, BOS_TOKEN, EOS_TOKEN, PAD_TOKEN, EOT_TOKEN]

# Jinja template stored with the tokenizer (tokenizer.apply_chat_template); roles alternate user/assistant.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{{ message['content'] }}" + EOT_TOKEN + "{% endfor %}"
)


def render_conversation(utterances: list[str]) -> str:
    """The training text of a conversation, identical to CHAT_TEMPLATE's output."""
    return BOS_TOKEN + "".join(utterance + EOT_TOKEN for utterance in utterances)
