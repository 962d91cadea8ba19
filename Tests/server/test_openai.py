"""The official `openai` package, pointed at storywriter serve, gets completions and chat completions, streamed and not."""
import openai


def client(server_url):
    return openai.OpenAI(base_url=f"{server_url}/v1", api_key="not-needed", max_retries=0, timeout=60)


def test_models_lists_the_served_model(server_url):
    models = client(server_url).models.list()
    assert [model.id for model in models.data] == ["tiny-storywriter"]


def test_completion(server_url):
    completion = client(server_url).completions.create(
        model="tiny-storywriter", prompt="Once upon a time", max_tokens=8, temperature=0, seed=1)
    choice = completion.choices[0]
    assert isinstance(choice.text, str) and choice.text
    assert choice.finish_reason in ("length", "stop")
    assert completion.usage.completion_tokens >= 1
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


def test_streamed_completion_matches_the_whole_one(server_url):
    api = client(server_url)
    whole = api.completions.create(model="m", prompt="The river was", max_tokens=10, temperature=0)
    pieces = [chunk.choices[0].text for chunk in
              api.completions.create(model="m", prompt="The river was", max_tokens=10, temperature=0, stream=True)
              if chunk.choices]
    assert len(pieces) >= 2
    assert "".join(pieces) == whole.choices[0].text


def test_several_sequences_and_logprobs(server_url):
    completion = client(server_url).completions.create(
        model="m", prompt="She opened the door", max_tokens=4, n=2, logprobs=2, seed=9)
    assert [choice.index for choice in completion.choices] == [0, 1]
    for choice in completion.choices:
        assert len(choice.logprobs.tokens) == len(choice.logprobs.token_logprobs)
        assert all(value <= 0 for value in choice.logprobs.token_logprobs)


def test_a_bad_value_is_a_400_the_client_reports(server_url):
    try:
        client(server_url).completions.create(model="m", prompt="x", max_tokens=4, top_p=3)
    except openai.BadRequestError as error:
        assert "top_p" in str(error)
    else:
        raise AssertionError("top_p 3 was accepted")


CONVERSATION = [
    {"role": "system", "content": "A story told in turns."},
    {"role": "user", "content": "Tell me about the lighthouse."},
]


def test_chat_completion(server_url):
    completion = client(server_url).chat.completions.create(
        model="tiny-storywriter", messages=CONVERSATION, max_tokens=8, temperature=0, seed=3)
    assert completion.object == "chat.completion"
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert isinstance(choice.message.content, str)
    assert choice.finish_reason in ("length", "stop")
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


def test_streamed_chat_completion_matches_the_whole_one(server_url):
    api = client(server_url)
    whole = api.chat.completions.create(model="m", messages=CONVERSATION, max_completion_tokens=10, temperature=0)
    chunks = list(api.chat.completions.create(
        model="m", messages=CONVERSATION, max_completion_tokens=10, temperature=0, stream=True,
        stream_options={"include_usage": True}))
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    deltas = [chunk.choices[0] for chunk in chunks if chunk.choices]
    assert deltas[0].delta.role == "assistant"
    assert "".join(choice.delta.content or "" for choice in deltas) == whole.choices[0].message.content
    assert deltas[-1].finish_reason == whole.choices[0].finish_reason
    assert chunks[-1].usage.prompt_tokens == whole.usage.prompt_tokens
    # The same conversation again: its reading is reused.
    assert chunks[-1].usage.prompt_tokens_details.cached_tokens == whole.usage.prompt_tokens


def test_a_bad_message_is_a_400_the_client_reports(server_url):
    try:
        client(server_url).chat.completions.create(model="m", messages=[{"role": "tool", "content": "42", "tool_call_id": "x"}])
    except openai.BadRequestError as error:
        assert "tool" in str(error)
    else:
        raise AssertionError("a tool message was accepted")
