/**
 * The dashboard's stylesheet and script, as string constants: they ship in dist/ inside this
 * module and go inline into every page (no CDN, no external font or file; a saved page is
 * complete). Each page has exactly one <style> (STYLE) and at most one <script> (SCRIPT), so the
 * daemon can allow them by hash under a strict Content-Security-Policy (CONTENT_SECURITY_POLICY):
 * no inline event handlers, no style attributes (bars are SVG attributes), no eval.
 */
import { createHash } from 'node:crypto';

export const STYLE = `
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--card:#f6f8fa;--link:#0550ae;
--ok:#1a7f37;--warning:#9a6700;--critical:#cf222e;--unknown:#6e7781;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9da7b3;--line:#30363d;--card:#161b22;--link:#58a6ff;
--ok:#3fb950;--warning:#d29922;--critical:#f85149;--unknown:#8b949e}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg)}
a{color:var(--link)}
:focus-visible{outline:2px solid var(--link);outline-offset:2px}
header,main,footer{max-width:1200px;margin:0 auto;padding:0 16px}
header{padding-top:12px}
h1{font-size:1.4rem;margin:.4rem 0}
h2{font-size:1.1rem;margin:1.6rem 0 .6rem}
h3{font-size:1rem;margin:1rem 0 .4rem}
.sub,.muted,footer{color:var(--muted)}
.sub{margin:.2rem 0 1rem}
footer{font-size:.85rem;padding:24px 16px}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:var(--bg);padding:4px 8px;z-index:2}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(125px,1fr));gap:10px;list-style:none;padding:0;margin:0}
.card{background:var(--card);border:1px solid var(--line);border-left-width:5px;border-radius:6px;padding:8px 12px}
.card strong{display:block;font-size:1.7rem;line-height:1.2}
.card.c-ok{border-left-color:var(--ok)}.card.c-warning{border-left-color:var(--warning)}
.card.c-critical{border-left-color:var(--critical)}.card.c-unknown{border-left-color:var(--unknown)}
.card.c-soon{border-left-color:var(--line)}
.st{white-space:nowrap;font-weight:600}
.st.s-ok,.ico.s-ok{color:var(--ok)}.st.s-warning,.ico.s-warning{color:var(--warning)}
.st.s-critical,.ico.s-critical{color:var(--critical)}.st.s-unknown,.ico.s-unknown{color:var(--unknown)}
svg .s-ok{fill:var(--ok);stroke:var(--ok)}svg .s-warning{fill:var(--warning);stroke:var(--warning)}
svg .s-critical{fill:var(--critical);stroke:var(--critical)}svg .s-unknown{fill:var(--unknown);stroke:var(--unknown)}
.timeline{width:100%;max-width:760px;height:auto;display:block}
.timeline .seg{stroke-width:0}.timeline .seg.mon{fill-opacity:.55;stroke-width:1.5}
.timeline .hatch{fill:var(--bg);fill-opacity:.6}.timeline .hit{fill:transparent}
.timeline .axis,.timeline .grid{stroke:var(--line)}.timeline .grid{stroke-dasharray:2 3}
.timeline .tick{fill:var(--muted);font-size:11px}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;list-style:none;padding:0;margin:.4rem 0;font-size:.9rem}
.legend svg{width:14px;height:14px;vertical-align:-2px;margin-right:4px}
.legend .seg.mon{fill-opacity:.55;stroke-width:1.5}.legend .hatch{fill:var(--bg);fill-opacity:.6}
.spark{width:100%;max-width:420px;height:auto;display:block}
.spark .line{fill:none;stroke:var(--fg);stroke-width:1.5}.spark .tick{fill:var(--muted);font-size:10px}.spark .zero{stroke:var(--critical);stroke-dasharray:3 3}
.life{width:80px;height:8px;display:block}dd .life{display:inline-block;vertical-align:middle}.life-bg{fill:var(--line)}
.filters{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:end;margin:.4rem 0 .8rem}
.filters label{display:flex;flex-direction:column;font-size:.85rem;color:var(--muted)}
select,input,button{font:inherit;color:inherit;background:var(--bg);border:1px solid var(--line);border-radius:4px;padding:4px 8px}
button{cursor:pointer}button:disabled{opacity:.5;cursor:default}
input[type=search]{min-width:14em}
.table-wrap{overflow-x:auto;border:1px solid var(--line);border-radius:6px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top}
tbody tr:last-child td{border-bottom:0}
thead th{background:var(--card);white-space:nowrap;font-size:.9rem}
th button{border:0;background:none;padding:0;font-weight:600}
th button::after{content:" \\2195";color:var(--muted)}
th[aria-sort=ascending] button::after{content:" \\2191";color:var(--fg)}th[aria-sort=descending] button::after{content:" \\2193";color:var(--fg)}
td.c-days{text-align:right;font-variant-numeric:tabular-nums}
td.c-ep,td.c-issuer{overflow-wrap:anywhere}
td.c-life{vertical-align:middle}
code{font:.85em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--card);border:1px solid var(--line);border-radius:3px;padding:0 3px}
.codes code{margin-right:3px;white-space:nowrap}
.tag{font-size:.75rem;border:1px solid var(--line);border-radius:8px;padding:0 6px;color:var(--muted);white-space:nowrap}
.pager{display:flex;gap:12px;align-items:center;margin:.6rem 0}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:.4rem 0}
dl.kv dt{color:var(--muted)}dl.kv dd{margin:0;word-break:break-word}
.chain{list-style:none;padding:0;margin:0;display:grid;gap:10px}
.chain>li{border:1px solid var(--line);border-radius:6px;padding:8px 12px;background:var(--card)}
.fp{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.8rem;word-break:break-all}
.problems{padding-left:1.2em}.problems li{margin:.3rem 0}
.hint{color:var(--muted)}
@media (prefers-color-scheme:dark){.timeline .hatch,.legend .hatch{fill-opacity:.4}.timeline .seg.mon,.legend .seg.mon{fill-opacity:.75}}
@media (max-width:640px){header,main,footer{padding:0 10px}th,td{padding:5px 6px}
dl.kv{grid-template-columns:1fr}dl.kv dd{margin-bottom:6px}
table.endpoints,table.endpoints tbody,table.endpoints td{display:block}
table.endpoints thead tr{display:flex;flex-wrap:wrap;gap:4px 12px;padding:6px}
table.endpoints thead th{border:0;padding:2px 0;background:none}table.endpoints th.c-life{display:none}
table.endpoints thead{display:block;background:var(--card);border-bottom:1px solid var(--line)}
table.endpoints tbody tr{display:grid;grid-template-columns:1fr auto;gap:2px 8px;padding:8px 10px;border-bottom:1px solid var(--line)}
table.endpoints td{border:0;padding:0;overflow-wrap:anywhere}
table.endpoints td.c-days{grid-column:2;grid-row:1}table.endpoints td.c-days::after{content:" days"}
table.endpoints td.c-ep,table.endpoints td.c-issuer,table.endpoints td.c-status,table.endpoints td.c-life{grid-column:1/3}
table.endpoints td.c-ep,table.endpoints td.c-issuer{color:var(--muted);font-size:.9rem}
table.endpoints tr.none{display:block}}
`.trim();

/**
 * The rows table's client side: sorting (header buttons; Enter and Space work as on any button),
 * filtering (status, problem code, text) and paging (100 rows a page) over the rows the page
 * embeds as JSON in <script type="application/json" id="rows"> (src/web/page.ts CompactRow
 * documents a row). ROW_JS renders one row and must produce byte for byte what page.ts's rowHtml does
 * (test/unit/web/pages.test.ts runs both): change them together.
 */
export const ROW_JS = `
var ICON={critical:"\\u2716",warning:"\\u25B2",unknown:"?",ok:"\\u2713"};
var ESC={"&":"&amp;","<":"&lt;",">":"&gt;","\\"":"&quot;","'":"&#39;"};
function esc(s){return String(s).replace(/[&<>"']/g,function(c){return ESC[c];});}
function lifeBar(p,s){return p===null?'<span class="muted">\\u2013</span>':'<svg class="life" viewBox="0 0 100 8" role="img" aria-label="'+p+'% of lifetime left"><rect class="life-bg" width="100" height="8"/><rect class="s-'+s+'" width="'+p+'" height="8"/></svg>';}
function rowHref(r,tpl){return r.length>9?r[9]:r[0]!==null&&tpl?tpl[0]+r[0]+tpl[1]:null;}
function epOf(r){return r[8]&2?r[1]+r[2]:r[2];}
function rowHtml(r,x){
var id=r[0],s=r[3],n=r[4],u=r[6],href=rowHref(r,x.href);
var h='<tr data-testid="endpoint-row" data-status="'+s+'" data-days="'+(n===null?'':n)+'" data-id="'+(id===null?'':id)+'"><td class="c-domain">';
h+=href!==null?'<a href="'+esc(href)+'">'+esc(r[1])+'</a>':esc(r[1]);
if(r[8]&1)h+=' <span class="tag">managed</span>';
h+='</td><td class="c-ep">'+esc(epOf(r))+'</td><td class="c-days">'+(n===null?'\u2013':n)+'</td><td class="c-life">'+lifeBar(r[5],s)+'</td><td class="c-issuer">'+(u===null?'\u2013':esc(x.issuers[u]))+'</td>';
h+='<td class="c-status"><span class="st s-'+s+'"><span aria-hidden="true">'+ICON[s]+'</span> '+s+'</span>';
if(r[7]){var c=r[7].split(" ");h+=' <span class="codes">';for(var i=0;i<c.length;i++)h+='<code>'+esc(c[i])+'</code>';h+='</span>';}
return h+'</td></tr>';}
`.trim();

const MAIN_JS = `
(function(){"use strict";
var src=document.getElementById("rows");if(!src)return;
var doc=JSON.parse(src.textContent),all=doc.rows,iss=doc.issuers;
var body=document.getElementById("rows-body"),info=document.getElementById("page-info"),prev=document.getElementById("page-prev"),next=document.getElementById("page-next");
var fStatus=document.getElementById("filter-status"),fCode=document.getElementById("filter-code"),fText=document.getElementById("filter-text");
var PAGE=100,RANK={critical:0,warning:1,unknown:2,ok:3};
var state={sort:null,dir:1,page:0},view=all;
// Per row, kept beside it: its place in the server's (urgency) order, and its search text.
var ord=new Map(),hays=new Map();
for(var k=0;k<all.length;k++)ord.set(all[k],k);
function hay(r){var t=hays.get(r);if(t===undefined){t=(r[1]+" "+epOf(r)+" "+(r[6]===null?"":iss[r[6]])+" "+r[7]+" "+r[3]).toLowerCase();hays.set(r,t);}return t;}
var KEY={
domain:function(r){return r[1];},endpoint:epOf,issuer:function(r){return r[6]===null?null:iss[r[6]].toLowerCase();},
days:function(r){return r[4];},status:function(r){return RANK[r[3]];}};
function compare(a,b){
var f=KEY[state.sort],x=f(a),y=f(b),o=ord.get(a)-ord.get(b);
if(x===null||y===null){if(x===y)return o;return x===null?1:-1;}
var c=x<y?-1:x>y?1:0;
return c*state.dir||o;}
function apply(){
var s=fStatus.value,c=fCode.value,t=fText.value.trim().toLowerCase();
var out=[];
for(var i=0;i<all.length;i++){var r=all[i];
if(s&&r[3]!==s)continue;
if(c&&(" "+r[7]+" ").indexOf(" "+c+" ")<0)continue;
if(t&&hay(r).indexOf(t)<0)continue;
out.push(r);}
if(state.sort)out.sort(compare);
view=out;render();}
function fmt(n){return String(n).replace(/\\B(?=(\\d{3})+(?!\\d))/g,",");}
function render(){
var pages=Math.max(1,Math.ceil(view.length/PAGE));
if(state.page>=pages)state.page=pages-1;
var from=state.page*PAGE,to=Math.min(view.length,from+PAGE),h=[];
for(var i=from;i<to;i++)h.push(rowHtml(view[i],doc));
if(!h.length)h.push('<tr class="none"><td colspan="6">No endpoint matches these filters.</td></tr>');
body.innerHTML=h.join("");
info.textContent=view.length?(fmt(from+1)+"\\u2013"+fmt(to)+" of "+fmt(view.length)+(view.length<all.length?" (filtered from "+fmt(all.length)+")":"")):"0 of "+fmt(all.length);
prev.disabled=state.page===0;next.disabled=state.page>=pages-1;
save();}
// The view lives in the URL's fragment, so Back from a detail page (the daemon sends no-store,
// which keeps pages out of the back-forward cache) comes back to the same sort, filters and page.
function save(){
var p=new URLSearchParams();
if(state.sort){p.set("sort",state.sort);if(state.dir<0)p.set("dir","desc");}
if(fStatus.value)p.set("status",fStatus.value);
if(fCode.value)p.set("code",fCode.value);
if(fText.value)p.set("q",fText.value);
if(state.page)p.set("page",String(state.page+1));
var h=p.toString();
if(h!==location.hash.slice(1))try{history.replaceState(null,"",h?"#"+h:location.pathname+location.search);}catch(e){/* an opaque origin may refuse: the view just is not kept */}}
function pick(el,v){for(var i=0;i<el.options.length;i++)if(el.options[i].value===v){el.value=v;return;}}
function load(){
var p=new URLSearchParams(location.hash.slice(1)),k=p.get("sort");
if(k&&KEY[k]){state.sort=k;state.dir=p.get("dir")==="desc"?-1:1;aria();}
pick(fStatus,p.get("status")||"");pick(fCode,p.get("code")||"");fText.value=p.get("q")||"";
state.page=Math.max(0,(parseInt(p.get("page")||"1",10)||1)-1);}
var heads=document.querySelectorAll("th[data-col]");
function aria(){for(var i=0;i<heads.length;i++){var th=heads[i];th.setAttribute("aria-sort",th.getAttribute("data-col")===state.sort?(state.dir>0?"ascending":"descending"):"none");}}
function sortBy(key){
if(state.sort===key)state.dir=-state.dir;else{state.sort=key;state.dir=1;}
aria();state.page=0;apply();}
var buttons=document.querySelectorAll("button[data-sort]");
for(var b=0;b<buttons.length;b++)buttons[b].addEventListener("click",function(e){sortBy(e.currentTarget.getAttribute("data-sort"));});
function refilter(){state.page=0;apply();}
fStatus.addEventListener("change",refilter);fCode.addEventListener("change",refilter);fText.addEventListener("input",refilter);
prev.addEventListener("click",function(){if(state.page>0){state.page--;render();}});
next.addEventListener("click",function(){state.page++;render();});
fStatus.disabled=fCode.disabled=fText.disabled=false;
var nojs=document.getElementById("nojs");if(nojs)nojs.hidden=true;
load();apply();
})();
`.trim();

/** The one inline script of the dashboard page. */
export const SCRIPT = `${ROW_JS}\n${MAIN_JS}`;

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('base64');

/** base64 SHA-256 of SCRIPT, for `script-src 'sha256-…'`. */
export const SCRIPT_SHA256 = sha256(SCRIPT);
/** base64 SHA-256 of STYLE, for `style-src 'sha256-…'`. */
export const STYLE_SHA256 = sha256(STYLE);

/**
 * The policy the pages are written for: only our one script and one stylesheet, SVG inline, no
 * request anywhere (default-src 'none' covers fetch, fonts, frames). The pages also carry it in
 * a <meta> tag, so a saved report opened from disk is held to it too.
 */
export const CONTENT_SECURITY_POLICY = `default-src 'none'; script-src 'sha256-${SCRIPT_SHA256}'; style-src 'sha256-${STYLE_SHA256}'; img-src data:; base-uri 'none'; form-action 'none'`;
