/**
 * The nginx templates as deploy renders them. Loading and checking live in
 * config/nginx-templates.ts, since config load checks a user's templates too and config must
 * not depend on deploy (the dependency runs deploy → config → core).
 */
export {
  BUNDLED_TEMPLATE_DIR,
  KNOWN_VARIABLES,
  NGINX_TEMPLATE_FILES,
  checkNginxTemplates,
  loadNginxTemplates,
  type NginxTemplateName,
  type NginxTemplates,
} from '../config/nginx-templates.js';
