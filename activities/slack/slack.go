// Package slack holds firebreak's Slack activities: posting run reports to a channel or
// thread exactly once per idempotency key, updating them in place, and looking up users.
package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/firebreak-dev/firebreak/secretscan"
	slackapi "github.com/slack-go/slack"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
)

// MessageEventType is the Slack message metadata event type firebreak stamps on every message
// it posts; the event payload's "key" holds the post's idempotency key.
const MessageEventType = "firebreak_message"

// How far back Post looks for an earlier post with the same key: history pages of
// dedupePageSize messages, at most dedupePages of them.
const (
	dedupePageSize = 200
	dedupePages    = 5
)

// API is the part of the Slack client the activities use; *slackapi.Client satisfies it.
type API interface {
	PostMessageContext(ctx context.Context, channelID string, options ...slackapi.MsgOption) (string, string, error)
	UpdateMessageContext(ctx context.Context, channelID, timestamp string, options ...slackapi.MsgOption) (string, string, string, error)
	GetConversationHistoryContext(ctx context.Context, params *slackapi.GetConversationHistoryParameters) (*slackapi.GetConversationHistoryResponse, error)
	GetConversationRepliesContext(ctx context.Context, params *slackapi.GetConversationRepliesParameters) ([]slackapi.Message, bool, string, error)
	GetConversationsContext(ctx context.Context, params *slackapi.GetConversationsParameters) ([]slackapi.Channel, string, error)
	GetUserByEmailContext(ctx context.Context, email string) (*slackapi.User, error)
}

var _ API = (*slackapi.Client)(nil)

// Activities are the Slack activities. Client must not retry or sleep on rate limits by itself
// (slack-go does not unless built with OptionRetry): a 429 is returned to Temporal, which
// retries after the Retry-After delay.
type Activities struct{ Client API }

// Register registers the Slack activities on r.
func Register(r worker.Registry, a *Activities) {
	r.RegisterActivityWithOptions(a, activity.RegisterOptions{Name: ActivityPrefix})
}

// PostInput is the input of Post.
type PostInput struct {
	// Channel is a channel ID ("C0123") or name ("#sec-incidents" or "sec-incidents").
	Channel string `json:"channel"`
	// ThreadTS, when set, makes the post a reply in the thread of that message.
	ThreadTS string `json:"thread_ts,omitempty"`
	// Text is the message text in Slack mrkdwn, and the notification fallback when Blocks
	// are set. It is sent as is: escape &, < and > unless they are Slack markup (<@U123>).
	Text string `json:"text"`
	// Blocks is optional Block Kit JSON: an array of blocks.
	Blocks json.RawMessage `json:"blocks,omitempty"`
	// IdempotencyKey names this post: Post never posts twice with one key in a channel
	// (or thread). When empty, a key is derived from the workflow and activity IDs, which
	// are stable across retries of this activity.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// PostResult is the result of Post.
type PostResult struct {
	Channel string `json:"channel"` // channel ID
	TS      string `json:"ts"`      // the message's timestamp, its ID within the channel
	// Duplicate is true when a message with the same key was already there and was returned
	// instead of posting again.
	Duplicate bool `json:"duplicate"`
}

// Post posts a message to a channel or, with ThreadTS, into a thread, at most once per
// IdempotencyKey: the message carries the key in its Slack metadata, and before posting Post
// looks for a message with that key in the channel's recent history (or the thread) and
// returns it instead. This makes retries and crash replays safe.
func (a *Activities) Post(ctx context.Context, in PostInput) (PostResult, error) {
	if strings.TrimSpace(in.Channel) == "" {
		return PostResult{}, invalidInput("slack post needs a channel ID or name, got none")
	}
	if strings.TrimSpace(in.Text) == "" && len(in.Blocks) == 0 {
		return PostResult{}, invalidInput("slack post needs text or blocks, got neither")
	}
	in.Text, in.Blocks = redact(in.Text, in.Blocks)
	opts := []slackapi.MsgOption{slackapi.MsgOptionText(in.Text, false)}
	if len(in.Blocks) > 0 {
		blocks, err := parseBlocks(in.Blocks)
		if err != nil {
			return PostResult{}, err
		}
		opts = append(opts, slackapi.MsgOptionBlocks(blocks...))
	}
	key := in.IdempotencyKey
	if key == "" {
		key = defaultKey(ctx)
	}
	channel, err := a.channelID(ctx, in.Channel)
	if err != nil {
		return PostResult{}, err
	}
	if ts, found, err := a.findByKey(ctx, channel, in.ThreadTS, key); err != nil {
		return PostResult{}, err
	} else if found {
		return PostResult{Channel: channel, TS: ts, Duplicate: true}, nil
	}
	if in.ThreadTS != "" {
		opts = append(opts, slackapi.MsgOptionTS(in.ThreadTS))
	}
	opts = append(opts, slackapi.MsgOptionMetadata(slackapi.SlackMetadata{
		EventType:    MessageEventType,
		EventPayload: map[string]any{"key": key},
	}))
	ch, ts, err := a.Client.PostMessageContext(ctx, channel, opts...)
	if err != nil {
		return PostResult{}, classify("post to channel "+in.Channel, err)
	}
	return PostResult{Channel: ch, TS: ts}, nil
}

// redact removes credentials from a message before it leaves for Slack, whatever put them
// there (a step output, a person's free text, an error message quoting a request).
func redact(text string, blocks json.RawMessage) (string, json.RawMessage) {
	if len(blocks) > 0 {
		blocks = secretscan.RedactJSON(blocks)
	}
	return secretscan.Redact(text), blocks
}

// UpdateInput is the input of Update.
type UpdateInput struct {
	Channel string          `json:"channel"` // channel ID, as returned by Post
	TS      string          `json:"ts"`      // the message to update
	Text    string          `json:"text"`
	Blocks  json.RawMessage `json:"blocks,omitempty"` // optional Block Kit JSON
}

// UpdateResult is the result of Update.
type UpdateResult struct {
	Channel string `json:"channel"`
	TS      string `json:"ts"`
}

// Update replaces the text (and blocks) of a message in place. Updating to the same
// content again is harmless, so it is safe to retry.
func (a *Activities) Update(ctx context.Context, in UpdateInput) (UpdateResult, error) {
	if in.Channel == "" || in.TS == "" {
		return UpdateResult{}, invalidInput(fmt.Sprintf("slack update needs the channel ID and ts of the message, got channel %q ts %q", in.Channel, in.TS))
	}
	if strings.TrimSpace(in.Text) == "" && len(in.Blocks) == 0 {
		return UpdateResult{}, invalidInput("slack update needs text or blocks, got neither")
	}
	in.Text, in.Blocks = redact(in.Text, in.Blocks)
	opts := []slackapi.MsgOption{slackapi.MsgOptionText(in.Text, false)}
	if len(in.Blocks) > 0 {
		blocks, err := parseBlocks(in.Blocks)
		if err != nil {
			return UpdateResult{}, err
		}
		opts = append(opts, slackapi.MsgOptionBlocks(blocks...))
	}
	ch, ts, _, err := a.Client.UpdateMessageContext(ctx, in.Channel, in.TS, opts...)
	if err != nil {
		return UpdateResult{}, classify("update message "+in.TS+" in channel "+in.Channel, err)
	}
	return UpdateResult{Channel: ch, TS: ts}, nil
}

// LookupUserInput is the input of LookupUser.
type LookupUserInput struct {
	Email string `json:"email"`
}

// LookupUserResult is the result of LookupUser.
type LookupUserResult struct {
	UserID string `json:"user_id"`
	Name   string `json:"name"`
}

// LookupUser finds the Slack user with an email address. An unknown address fails with the
// non-retryable error type "UnknownUser".
func (a *Activities) LookupUser(ctx context.Context, in LookupUserInput) (LookupUserResult, error) {
	if strings.TrimSpace(in.Email) == "" {
		return LookupUserResult{}, invalidInput("slack user lookup needs an email address, got none")
	}
	u, err := a.Client.GetUserByEmailContext(ctx, in.Email)
	if err != nil {
		return LookupUserResult{}, classify("look up user "+in.Email, err)
	}
	return LookupUserResult{UserID: u.ID, Name: u.Name}, nil
}

// parseBlocks decodes Block Kit JSON into slack-go blocks (unknown block types pass through).
func parseBlocks(raw json.RawMessage) ([]slackapi.Block, error) {
	var blocks slackapi.Blocks
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return nil, invalidInput(fmt.Sprintf("slack blocks must be a JSON array of Block Kit blocks: %v", err))
	}
	return blocks.BlockSet, nil
}

// defaultKey derives an idempotency key that is the same on every attempt of this activity.
func defaultKey(ctx context.Context) string {
	info := activity.GetInfo(ctx)
	return info.WorkflowExecution.ID + "/" + info.WorkflowExecution.RunID + "/" + info.ActivityID
}

// isChannelID reports whether ref looks like a Slack conversation ID rather than a name.
func isChannelID(ref string) bool {
	if len(ref) < 2 || !strings.ContainsRune("CGD", rune(ref[0])) {
		return false
	}
	for _, r := range ref {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// channelID resolves a channel name to its ID; conversations.history takes only IDs.
func (a *Activities) channelID(ctx context.Context, ref string) (string, error) {
	if isChannelID(ref) {
		return ref, nil
	}
	name := strings.TrimPrefix(ref, "#")
	params := &slackapi.GetConversationsParameters{
		Types: []string{"public_channel", "private_channel"}, ExcludeArchived: true, Limit: 1000,
	}
	for {
		chans, next, err := a.Client.GetConversationsContext(ctx, params)
		if err != nil {
			return "", classify("list channels to find #"+name, err)
		}
		for _, c := range chans {
			if c.Name == name {
				return c.ID, nil
			}
		}
		if next == "" {
			return "", nonRetryable("ChannelNotFound", fmt.Sprintf("slack channel #%s not found among the channels the bot can see: use the channel ID, or invite the bot to the channel", name))
		}
		params.Cursor = next
	}
}

// findByKey looks for a message stamped with key among the channel's recent top-level
// messages, or among the replies of threadTS when it is set.
func (a *Activities) findByKey(ctx context.Context, channel, threadTS, key string) (string, bool, error) {
	cursor := ""
	for range dedupePages {
		var (
			msgs []slackapi.Message
			next string
		)
		if threadTS != "" {
			m, _, n, err := a.Client.GetConversationRepliesContext(ctx, &slackapi.GetConversationRepliesParameters{
				ChannelID: channel, Timestamp: threadTS, Cursor: cursor, Limit: dedupePageSize, IncludeAllMetadata: true,
			})
			if err != nil {
				return "", false, classify("read thread "+threadTS+" in channel "+channel, err)
			}
			msgs, next = m, n
		} else {
			resp, err := a.Client.GetConversationHistoryContext(ctx, &slackapi.GetConversationHistoryParameters{
				ChannelID: channel, Cursor: cursor, Limit: dedupePageSize, IncludeAllMetadata: true,
			})
			if err != nil {
				return "", false, classify("read history of channel "+channel, err)
			}
			msgs, next = resp.Messages, resp.ResponseMetaData.NextCursor
		}
		for _, m := range msgs {
			if m.Metadata.EventType == MessageEventType && fmt.Sprint(m.Metadata.EventPayload["key"]) == key {
				return m.Timestamp, true, nil
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	return "", false, nil
}
