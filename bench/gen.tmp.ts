import { openApiDocument } from '../server/openapi/openapi-document.js';
console.log(JSON.stringify(openApiDocument(), null, 1).slice(0, 3000));
