// A stand-in for Office.js in Outlook (Mailbox requirement set 1.1-1.14), for tests.
// It follows the documented shapes: Office.onReady(info), Office.context.mailbox.item,
// AsyncResult {status, value, error}, read-mode properties and compose-mode getAsync
// objects. The item's data comes from window.__outlookItem (set by the test):
//   {mode: "read"|"compose", from, to, cc, bcc, subject, html, internetMessageId,
//    dateTimeCreated, attachments: [{id, name, contentType, size, isInline,
//    attachmentType, content (base64) | null}], eml (base64) | undefined,
//    getAsFile: bool, attachmentContent: bool, userProfile}
(function () {
  const data = window.__outlookItem;
  const ok = (value) => ({ status: "succeeded", value, error: null });
  const failed = (message) => ({ status: "failed", value: null, error: { name: "GenericError", message, code: 9999 } });
  const later = (callback, result) => setTimeout(() => callback(result), 5);
  const lastCallback = (args) => args.filter((a) => typeof a === "function").pop();
  const recipient = (p) => ({ emailAddress: p.address, displayName: p.name || "", recipientType: "externalUser" });
  const getter = (value) => ({ getAsync: (...args) => later(lastCallback(args), ok(value)) });

  const details = (data.attachments || []).map((a) => ({
    id: a.id, name: a.name, contentType: a.contentType, size: a.size,
    isInline: Boolean(a.isInline), attachmentType: a.attachmentType || "file",
  }));

  const item = { itemType: "message", itemId: "AAMkAGI2TAAA=" };
  item.body = {
    getAsync: (coercion, ...rest) => later(lastCallback(rest), ok(coercion === "html" ? data.html : data.html.replace(/<[^>]+>/g, ""))),
  };
  if (data.attachmentContent !== false) {
    item.getAttachmentContentAsync = (id, ...rest) => {
      const found = (data.attachments || []).find((a) => a.id === id);
      if (!found || found.content === null) return later(lastCallback(rest), failed("The attachment cannot be read."));
      return later(lastCallback(rest), ok({ format: "base64", content: found.content }));
    };
  }
  if (data.mode === "read") {
    item.from = recipient(data.from);
    item.sender = recipient(data.from);
    item.to = (data.to || []).map(recipient);
    item.cc = (data.cc || []).map(recipient);
    item.subject = data.subject;
    item.internetMessageId = data.internetMessageId;
    item.dateTimeCreated = new Date(data.dateTimeCreated);
    item.attachments = details;
    item.displayReplyForm = () => {};
    if (data.getAsFile) item.getAsFileAsync = (...args) => later(lastCallback(args), ok(data.eml));
  } else {
    item.from = getter(recipient(data.from));
    item.to = getter((data.to || []).map(recipient));
    item.cc = getter((data.cc || []).map(recipient));
    item.bcc = getter((data.bcc || []).map(recipient));
    item.subject = getter(data.subject);
    item.getAttachmentsAsync = (...args) => later(lastCallback(args), ok(details));
  }

  window.Office = {
    HostType: { Outlook: "Outlook" },
    CoercionType: { Html: "html", Text: "text" },
    AsyncResultStatus: { Succeeded: "succeeded", Failed: "failed" },
    MailboxEnums: { AttachmentContentFormat: { Base64: "base64", Url: "url", Eml: "eml", ICalendar: "iCalendar" } },
    context: {
      mailbox: { item, userProfile: data.userProfile || { emailAddress: data.from.address, displayName: data.from.name } },
      requirements: { isSetSupported: (name, version) => name === "Mailbox" && (data.getAsFile ? true : Number(version) < 1.14) },
    },
    onReady(callback) {
      const info = { host: "Outlook", platform: "PC" };
      if (callback) setTimeout(() => callback(info), 0);
      return Promise.resolve(info);
    },
  };
})();
