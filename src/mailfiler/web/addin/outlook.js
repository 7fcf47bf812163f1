// @ts-check
// Getting the current Outlook item through Office.js, as the API wants it.
//
// Read mode: the whole message with item.getAsFileAsync (Mailbox 1.14) when the
// host has it; otherwise the item's fields and each attachment through
// getAttachmentContentAsync. Compose mode: From/To/Cc/Bcc, subject, body and
// attachments through their getAsync calls. Where attachment bytes cannot be
// had, the message is still sent, marked "attachments_unavailable".

function promised(start) {
  return new Promise((resolve, reject) => {
    start((result) => {
      if (result.status === "succeeded") resolve(result.value);
      else reject(new Error((result.error && result.error.message) || "Outlook refused the request"));
    });
  });
}

export function outlookItem() {
  const mailbox = window.Office && Office.context && Office.context.mailbox;
  return mailbox ? mailbox.item : null;
}

export function isCompose(item) {
  // In compose mode the subject is an object with getAsync; in read mode, a string.
  return typeof item.subject === "object" && item.subject !== null && typeof item.subject.getAsync === "function";
}

function person(details) {
  return details ? { address: details.emailAddress || "", name: details.displayName || "" } : null;
}

function people(list) {
  return (list || []).map(person).filter((p) => p && p.address);
}

function base64ToBytes(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

async function attachmentContents(item, details) {
  const files = [];
  let unavailable = false;
  if (typeof item.getAttachmentContentAsync !== "function") {
    return { files, unavailable: details.length > 0 };
  }
  for (const detail of details) {
    if (detail.attachmentType && detail.attachmentType !== "file") {
      unavailable = true; // an attached Outlook item or a cloud link: no bytes to send
      continue;
    }
    try {
      const content = await promised((done) => item.getAttachmentContentAsync(detail.id, done));
      if (content.format !== "base64") {
        unavailable = true;
        continue;
      }
      files.push({
        name: detail.name,
        content_type: detail.contentType || "application/octet-stream",
        content_base64: content.content,
        content_id: detail.contentId || null,
        inline: Boolean(detail.isInline),
      });
    } catch {
      unavailable = true;
    }
  }
  return { files, unavailable };
}

// What to POST to /api/v1/messages for the current item: {body, contentType}.
export async function messageRequest(item) {
  if (!isCompose(item)) {
    if (typeof item.getAsFileAsync === "function") {
      const eml = await promised((done) => item.getAsFileAsync(done));
      return { body: base64ToBytes(eml), contentType: "message/rfc822" };
    }
    const html = await promised((done) => item.body.getAsync("html", done));
    const { files, unavailable } = await attachmentContents(item, item.attachments || []);
    return {
      contentType: "application/json",
      body: JSON.stringify({
        mode: "read",
        from: person(item.from),
        to: people(item.to),
        cc: people(item.cc),
        subject: item.subject || "",
        message_id: item.internetMessageId || null,
        date: item.dateTimeCreated ? new Date(item.dateTimeCreated).toISOString() : null,
        html_body: html,
        attachments: files,
        attachments_unavailable: unavailable,
      }),
    };
  }
  const [from, to, cc, bcc, subject, html] = await Promise.all([
    item.from && item.from.getAsync ? promised((done) => item.from.getAsync(done)) : Promise.resolve(null),
    promised((done) => item.to.getAsync(done)),
    promised((done) => item.cc.getAsync(done)),
    item.bcc ? promised((done) => item.bcc.getAsync(done)) : Promise.resolve([]),
    promised((done) => item.subject.getAsync(done)),
    promised((done) => item.body.getAsync("html", done)),
  ]);
  let files = [];
  let unavailable = false;
  if (typeof item.getAttachmentsAsync === "function") {
    const details = await promised((done) => item.getAttachmentsAsync(done));
    ({ files, unavailable } = await attachmentContents(item, details));
  } else {
    unavailable = true; // an older host: it cannot list a draft's attachments
  }
  const sender =
    person(from) ||
    person(
      Office.context.mailbox.userProfile && {
        emailAddress: Office.context.mailbox.userProfile.emailAddress,
        displayName: Office.context.mailbox.userProfile.displayName,
      },
    );
  return {
    contentType: "application/json",
    body: JSON.stringify({
      mode: "compose",
      from: sender,
      to: people(to),
      cc: people(cc),
      bcc: people(bcc),
      subject: subject || "",
      html_body: html,
      attachments: files,
      attachments_unavailable: unavailable,
    }),
  };
}
