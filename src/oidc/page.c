/*
 * page.c: the provider's pages (sign-in, second factor, consent, device
 * code, errors), rendered on the server as plain HTML forms that work
 * without JavaScript.
 *
 * Every page is one shape: a card with a heading, a line of explanation,
 * an error in plain words when there is one, and a form of labelled
 * inputs and buttons.  Every string that reaches the page is escaped for
 * HTML text and attribute values alike, so a client name or a login name
 * cannot add markup.  The style sheet is served from /assets/ztiam.css,
 * so the Content-Security-Policy of a page (zt_page_csp) allows no inline
 * script or style at all.
 */
#include <string.h>

#include "base/base.h"
#include "oidc/oidc.h"

const char zt_page_csp[] =
    "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'";

/* Quiet colours, one column, large targets; dark when the system is. */
const char zt_page_css[] =
    ":root{color-scheme:light dark;--fg:#1d2330;--muted:#5b6475;"
    "--bg:#f3f5f8;--card:#fff;--line:#d6dbe3;--accent:#2459d6;"
    "--accent-fg:#fff;--err-bg:#fdecec;--err:#9b1c1c}"
    "@media(prefers-color-scheme:dark){:root{--fg:#e6e9ef;"
    "--muted:#a3abba;--bg:#12151b;--card:#1b2029;--line:#333b48;"
    "--accent:#5b8cff;--accent-fg:#0b1020;--err-bg:#3a1d1d;"
    "--err:#ffb4b4}}"
    "*{box-sizing:border-box}"
    "body{margin:0;min-height:100vh;display:flex;align-items:center;"
    "justify-content:center;background:var(--bg);color:var(--fg);"
    "font:16px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif}"
    "main{width:100%;max-width:24rem;margin:2rem 1rem;"
    "background:var(--card);border:1px solid var(--line);"
    "border-radius:12px;padding:2rem}"
    ".brand{font-weight:600;letter-spacing:.02em;color:var(--muted);"
    "margin:0 0 1rem}"
    "h1{font-size:1.4rem;margin:0 0 .5rem}"
    "p{margin:0 0 1rem;color:var(--muted)}"
    ".error{background:var(--err-bg);color:var(--err);border-radius:8px;"
    "padding:.75rem 1rem}"
    "label{display:block;font-weight:500;margin:1rem 0 .25rem}"
    "input{width:100%;padding:.65rem .75rem;font:inherit;"
    "color:var(--fg);background:transparent;border:1px solid var(--line);"
    "border-radius:8px}"
    "input:focus{outline:2px solid var(--accent);outline-offset:1px}"
    "ul{margin:0 0 1rem;padding-left:1.25rem}"
    ".actions{display:flex;gap:.75rem;margin-top:1.5rem}"
    "button{flex:1;padding:.7rem 1rem;font:inherit;font-weight:600;"
    "border-radius:8px;border:1px solid var(--accent);cursor:pointer;"
    "background:var(--accent);color:var(--accent-fg)}"
    "button.secondary{background:transparent;color:var(--accent)}"
    "img{display:block;max-width:12rem;margin:0 auto 1rem}";

/* Appends `s` escaped for HTML text and double-quoted attributes. */
int
zt_html_escape(zt_buf *out, const char *s)
{
	const char *run = s;
	int err = ZT_OK;

	for (; *s != '\0'; s++) {
		const char *rep;

		switch (*s) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default: continue;
		}
		if (err == ZT_OK)
			err = zt_buf_add(out, run, (size_t)(s - run));
		if (err == ZT_OK)
			err = zt_buf_adds(out, rep);
		run = s + 1;
	}
	return err == ZT_OK ? zt_buf_add(out, run, (size_t)(s - run)) : err;
}

/* The page being written: the first failed append is kept, and nothing
 * is written after it. */
struct html {
	zt_buf *b;
	int err;
};

static void
raw(struct html *h, const char *s)
{
	if (h->err == ZT_OK)
		h->err = zt_buf_adds(h->b, s);
}

static void
esc(struct html *h, const char *s)
{
	if (h->err == ZT_OK)
		h->err = zt_html_escape(h->b, s);
}

static void
text(struct html *h, const char *open, const char *s, const char *close)
{
	raw(h, open);
	esc(h, s);
	raw(h, close);
}

static void
attr(struct html *h, const char *name, const char *value)
{
	raw(h, " ");
	raw(h, name);
	raw(h, "=\"");
	esc(h, value);
	raw(h, "\"");
}

static void
render_input(struct html *h, const zt_page_input *in, bool first)
{
	text(h, "<label for=\"", in->name, "\">");
	esc(h, in->label);
	raw(h, "</label><input");
	attr(h, "id", in->name);
	attr(h, "name", in->name);
	attr(h, "type", in->type ? in->type : "text");
	if (in->autocomplete)
		attr(h, "autocomplete", in->autocomplete);
	if (in->inputmode)
		attr(h, "inputmode", in->inputmode);
	if (in->value)
		attr(h, "value", in->value);
	if (in->required)
		raw(h, " required");
	if (first)
		raw(h, " autofocus");
	raw(h, ">");
}

static void
render_form(struct html *h, const zt_page *p)
{
	size_t i;

	raw(h, "<form method=\"post\"");
	attr(h, "action", p->action);
	raw(h, ">");
	for (i = 0; i < p->nhidden; i++) {
		raw(h, "<input type=\"hidden\"");
		attr(h, "name", p->hidden[i].name);
		attr(h, "value", p->hidden[i].value);
		raw(h, ">");
	}
	for (i = 0; i < p->ninputs; i++)
		render_input(h, &p->inputs[i], i == 0);
	raw(h, "<div class=\"actions\">");
	for (i = 0; i < p->nbuttons; i++) {
		raw(h, "<button type=\"submit\"");
		if (p->buttons[i].secondary)
			attr(h, "class", "secondary");
		if (p->buttons[i].name) {
			attr(h, "name", p->buttons[i].name);
			attr(h, "value", p->buttons[i].value);
		}
		text(h, ">", p->buttons[i].label, "</button>");
	}
	raw(h, "</div></form>");
}

int
zt_page_render(zt_buf *out, const zt_page *p)
{
	struct html h = { out, ZT_OK };
	size_t i;

	raw(&h, "<!doctype html><html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\"><meta name=\"viewport\" "
	    "content=\"width=device-width,initial-scale=1\">"
	    "<meta name=\"referrer\" content=\"no-referrer\">");
	text(&h, "<title>", p->title, " \xe2\x80\x93 ztiam</title>");
	raw(&h, "<link rel=\"stylesheet\" href=\"/assets/ztiam.css\">"
	    "</head><body><main><p class=\"brand\">ztiam</p>");
	text(&h, "<h1>", p->heading ? p->heading : p->title, "</h1>");
	if (p->lead)
		text(&h, "<p>", p->lead, "</p>");
	if (p->error)
		text(&h, "<p class=\"error\" role=\"alert\">", p->error,
		    "</p>");
	if (p->image_data_uri) {
		raw(&h, "<img alt=\"\"");
		attr(&h, "src", p->image_data_uri);
		raw(&h, ">");
	}
	if (p->nitems > 0) {
		raw(&h, "<ul>");
		for (i = 0; i < p->nitems; i++)
			text(&h, "<li>", p->items[i], "</li>");
		raw(&h, "</ul>");
	}
	if (p->action != NULL)
		render_form(&h, p);
	raw(&h, "</main></body></html>\n");
	return h.err;
}
